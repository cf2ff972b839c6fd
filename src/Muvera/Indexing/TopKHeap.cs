// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;

namespace Muvera.Indexing;

/// <summary>
/// The best k results seen so far, in a bounded binary heap whose root is the worst kept result (by
/// <see cref="ScoredId.CompareTo(ScoredId)"/>): a candidate is one float compare when it cannot enter, and
/// O(log k) when it can. The kept set is the exact top k under the total result order, so it does not depend on the
/// order candidates arrive in (nor on how a search is split across threads and merged).
/// </summary>
internal sealed class TopKHeap
{
    private readonly ScoredId[] _items;
    private int _count;

    public TopKHeap(int k)
    {
        Debug.Assert(k > 0);
        _items = new ScoredId[k];
    }

    /// <summary>How many results are kept (at most k).</summary>
    public int Count => _count;

    /// <summary>Forgets every result.</summary>
    public void Clear() => _count = 0;

    /// <summary>Offers a candidate.</summary>
    public void Push(int id, float score)
    {
        ScoredId[] items = _items;
        if (_count < items.Length)
        {
            // Sift up: parents must rank after (be worse than) their children.
            int i = _count++;
            var item = new ScoredId(id, score);
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (items[parent].CompareTo(item) >= 0)
                {
                    break;
                }

                items[i] = items[parent];
                i = parent;
            }

            items[i] = item;
            return;
        }

        ScoredId root = items[0];
        if (score < root.Score || (score == root.Score && id > root.Id))
        {
            return;
        }

        SiftDown(new ScoredId(id, score));
    }

    /// <summary>Offers every result of <paramref name="other"/>.</summary>
    public void PushAll(TopKHeap other)
    {
        for (int i = 0; i < other._count; i++)
        {
            Push(other._items[i].Id, other._items[i].Score);
        }
    }

    /// <summary>Writes the kept results best first and returns how many there are.</summary>
    public int CopySorted(Span<ScoredId> destination)
    {
        Span<ScoredId> kept = _items.AsSpan(0, _count);
        kept.Sort();
        kept.CopyTo(destination);
        return _count;
    }

    private void SiftDown(ScoredId item)
    {
        ScoredId[] items = _items;
        int count = _count;
        int i = 0;
        while (true)
        {
            int child = (2 * i) + 1;
            if (child >= count)
            {
                break;
            }

            // The worse child moves up.
            if (child + 1 < count && items[child + 1].CompareTo(items[child]) > 0)
            {
                child++;
            }

            if (items[child].CompareTo(item) <= 0)
            {
                break;
            }

            items[i] = items[child];
            i = child;
        }

        items[i] = item;
    }
}
