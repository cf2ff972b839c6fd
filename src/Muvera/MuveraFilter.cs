// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using Muvera.Indexing;

namespace Muvera;

/// <summary>
/// The documents a <see cref="MuveraIndex"/> search may return (<see cref="MuveraSearchOptions.Filter"/>,
/// <see cref="MuveraIndex.SearchExact(ReadOnlyMultiVector, int, MuveraFilter)"/>): a set of ids, or a predicate over
/// ids. Ids that are not in the index are ignored; deleted documents are never returned.
/// </summary>
/// <remarks>
/// <para>Cost per search: <see cref="FromIds"/> looks up each of its ids (proportional to the set's size, whatever the
/// index's size: the cheap choice for selective filters); <see cref="Where"/> calls its predicate once for every live
/// document (proportional to the index's size). Both then give the MIPS backend a bit set over the index's documents.</para>
/// <para>How a filtered search runs: when the filter allows at most N documents (the candidate count), they are all
/// reranked with exact Chamfer — the filtered exact result, without the FDE stage. Otherwise the FDE stage searches
/// the allowed documents only (the flat backend skips the others during its scan; HNSW filters during the graph walk,
/// which loses recall when few documents are allowed; FAISS does not support filters) and the N candidates are
/// reranked.</para>
/// <para>A filter is immutable and may be shared by concurrent searches.</para>
/// </remarks>
public sealed class MuveraFilter
{
    private readonly HashSet<string>? _ids;
    private readonly Func<string, bool>? _predicate;

    private MuveraFilter(HashSet<string>? ids, Func<string, bool>? predicate)
    {
        _ids = ids;
        _predicate = predicate;
    }

    /// <summary>Allows exactly the documents with these ids (copied; compared ordinally).</summary>
    /// <param name="ids">The allowed ids (duplicates and unknown ids are harmless).</param>
    /// <returns>The filter.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="ids"/> or one of its elements is null.</exception>
    public static MuveraFilter FromIds(IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (string id in ids)
        {
            if (id is null)
            {
                ThrowHelper.ThrowArgument("ids holds a null id.", nameof(ids));
            }

            set.Add(id);
        }

        return new MuveraFilter(set, null);
    }

    /// <summary>Allows the documents whose id satisfies <paramref name="predicate"/>, evaluated once per live document
    /// on each search (it must be thread-safe when searches run concurrently, and should not throw).</summary>
    /// <param name="predicate">The test.</param>
    /// <returns>The filter.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is null.</exception>
    public static MuveraFilter Where(Func<string, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new MuveraFilter(null, predicate);
    }

    /// <summary>The allowed live ordinals of an index (its ordinal → id list and id → ordinal map).</summary>
    internal MipsFilter Resolve(IReadOnlyList<string?> ids, IReadOnlyDictionary<string, int> ordinals)
    {
        var filter = new MipsFilter(ids.Count);
        if (_ids is not null)
        {
            foreach (string id in _ids)
            {
                if (ordinals.TryGetValue(id, out int ordinal))
                {
                    filter.Allow(ordinal);
                }
            }

            return filter;
        }

        for (int ordinal = 0; ordinal < ids.Count; ordinal++)
        {
            if (ids[ordinal] is string id && _predicate!(id))
            {
                filter.Allow(ordinal);
            }
        }

        return filter;
    }
}
