// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace Muvera.Gpu;

/// <summary>
/// The device copy of one <see cref="MultiVectorStore"/>: every token (Float32 as float, Float16 as half, exactly as
/// stored) in one buffer, and the token offsets of every document (<c>starts[i] .. starts[i + 1]</c>) in another.
/// </summary>
/// <remarks>
/// <para>The store is append-only, so the device copy stays valid as the store grows; <see cref="Synchronize"/> brings
/// it up to the store's current <see cref="MultiVectorStore.Count"/>. When the new documents fit in the spare capacity
/// only they are uploaded (the tail); otherwise both buffers are freed and the whole store is uploaded again into
/// buffers with 25 % headroom, so a store that keeps growing is re-uploaded O(log n) times. The first upload is exact
/// (no headroom): a loaded store never grows.</para>
/// <para>Before anything is freed or allocated the memory needed is checked, so a refused upload leaves the previous
/// copy intact.</para>
/// </remarks>
internal sealed class ResidentStore : IDisposable
{
    private readonly DeviceMemory _memory;
    private readonly int _dimension;
    private MemoryBuffer1D<long, Stride1D.Dense>? _starts;
    private MemoryBuffer1D<float, Stride1D.Dense>? _floats;
    private MemoryBuffer1D<ILGPU.Half, Stride1D.Dense>? _halves;

    public ResidentStore(DeviceMemory memory, MultiVectorStore store)
    {
        _memory = memory;
        _dimension = store.Dimension;
        IsHalf = store.ElementType == StoreElementType.Float16;
    }

    /// <summary>Whether tokens are stored as halves.</summary>
    public bool IsHalf { get; }

    /// <summary>Documents on the device.</summary>
    public int Count { get; private set; }

    /// <summary>Tokens on the device.</summary>
    public long Tokens { get; private set; }

    /// <summary>Device bytes held.</summary>
    public long Bytes => (_starts?.LengthInBytes ?? 0) + (_floats?.LengthInBytes ?? 0) + (_halves?.LengthInBytes ?? 0);

    /// <summary>Token offsets, <see cref="Count"/> + 1 of them (valid after <see cref="Synchronize"/>).</summary>
    public ArrayView<long> Starts => _starts!.View.AsContiguous();

    /// <summary>Float32 tokens.</summary>
    public ArrayView<float> Floats => _floats!.View.AsContiguous();

    /// <summary>Float16 tokens.</summary>
    public ArrayView<ILGPU.Half> Halves => _halves!.View.AsContiguous();

    /// <summary>Uploads what the device copy lacks (see the remarks).</summary>
    /// <exception cref="InvalidOperationException">Not enough device memory (nothing was changed).</exception>
    public void Synchronize(MultiVectorStore store)
    {
        int count = store.Count;
        if (count == Count && _starts is not null)
        {
            return;
        }

        long newTokens = 0;
        for (int i = Count; i < count; i++)
        {
            newTokens += store.TokenCountUnchecked(i);
        }

        long tokens = Tokens + newTokens;
        long elements = Math.Max(1, tokens * _dimension);
        long tokenCapacity = IsHalf ? _halves?.Length ?? 0 : _floats?.Length ?? 0;
        if (_starts is not null && _starts.Length >= (long)count + 1 && tokenCapacity >= elements)
        {
            Upload(store, Count, count, Tokens);
            return;
        }

        int elementSize = IsHalf ? 2 : sizeof(float);
        string purpose = $"uploading the store ({count} documents, {tokens} tokens of dimension {_dimension}, {store.ElementType})";
        long exactBytes = (((long)count + 1) * sizeof(long)) + (elements * elementSize);
        _memory.EnsureAvailable(exactBytes, Bytes, purpose);

        long startsLength = (long)count + 1;
        long tokenLength = elements;
        if (_starts is not null)
        {
            long roomyStarts = startsLength + (startsLength / 4);
            long roomyTokens = tokenLength + (tokenLength / 4);
            long roomyBytes = (roomyStarts * sizeof(long)) + (roomyTokens * elementSize);
            if (roomyBytes <= _memory.Available + Bytes)
            {
                startsLength = roomyStarts;
                tokenLength = roomyTokens;
            }
        }

        Release();
        _starts = _memory.Allocate<long>(startsLength, purpose);
        if (IsHalf)
        {
            _halves = _memory.Allocate<ILGPU.Half>(tokenLength, purpose);
        }
        else
        {
            _floats = _memory.Allocate<float>(tokenLength, purpose);
        }

        Upload(store, 0, count, 0);
    }

    /// <summary>Frees the device buffers.</summary>
    public void Dispose() => Release();

    private void Release()
    {
        _memory.Free(ref _starts);
        _memory.Free(ref _floats);
        _memory.Free(ref _halves);
        Count = 0;
        Tokens = 0;
    }

    // Documents [from, to) with their first token at tokenStart; the starts of documents ≤ from are already there
    // except on a fresh upload (from = 0), where start 0 is written too.
    private void Upload(MultiVectorStore store, int from, int to, long tokenStart)
    {
        int d = _dimension;
        long tokens = tokenStart;
        using (var starts = new StagedUpload<long>(Starts.SubView(from, (long)to - from + 1), (long)to - from + 1))
        {
            starts.Append(tokenStart);
            for (int i = from; i < to; i++)
            {
                tokens += store.TokenCountUnchecked(i);
                starts.Append(tokens);
            }

            starts.Flush();
        }

        long elements = (tokens - tokenStart) * d;
        if (elements > 0)
        {
            if (IsHalf)
            {
                using var upload = new StagedUpload<ILGPU.Half>(Halves.SubView(tokenStart * d, elements), elements);
                for (int i = from; i < to; i++)
                {
                    upload.Append(MemoryMarshal.Cast<System.Half, ILGPU.Half>(store.HalfTokens(i)));
                }

                upload.Flush();
            }
            else
            {
                using var upload = new StagedUpload<float>(Floats.SubView(tokenStart * d, elements), elements);
                for (int i = from; i < to; i++)
                {
                    upload.Append(store.FloatTokens(i));
                }

                upload.Flush();
            }
        }

        Count = to;
        Tokens = tokens;
    }
}
