// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera;

/// <summary>
/// A read-only set of token vectors (a multi-vector): a row-major buffer of <see cref="Count"/> rows of
/// <see cref="Dimension"/> floats. Token <c>i</c> occupies <c>[i·Dimension, (i+1)·Dimension)</c>.
/// </summary>
/// <remarks>A view: it does not copy the buffer. Zero tokens is a valid (empty) multi-vector.</remarks>
public readonly struct ReadOnlyMultiVector : IEquatable<ReadOnlyMultiVector>
{
    /// <summary>Wraps a row-major buffer of token vectors.</summary>
    /// <param name="values">The token vectors, row-major.</param>
    /// <param name="dimension">The dimension of each token vector; must be positive.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is zero or negative.</exception>
    /// <exception cref="ArgumentException">The length of <paramref name="values"/> is not a multiple of <paramref name="dimension"/>.</exception>
    public ReadOnlyMultiVector(ReadOnlyMemory<float> values, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        if (values.Length % dimension != 0)
        {
            ThrowHelper.ThrowRaggedLength(nameof(values), values.Length, dimension);
        }

        Values = values;
        Dimension = dimension;
    }

    /// <summary>The token vectors, row-major (<see cref="Count"/> × <see cref="Dimension"/> floats).</summary>
    public ReadOnlyMemory<float> Values { get; }

    /// <summary>The dimension of each token vector (0 only for a <see langword="default"/> instance).</summary>
    public int Dimension { get; }

    /// <summary>The number of token vectors.</summary>
    public int Count => Dimension == 0 ? 0 : Values.Length / Dimension;

    /// <summary>The token vectors as a span.</summary>
    public ReadOnlySpan<float> Span => Values.Span;

    /// <summary>The token vector at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside <c>[0, Count)</c>.</exception>
    public ReadOnlySpan<float> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(index), index, $"Token index {index} is outside [0, {Count}).");
            }

            return Values.Span.Slice(index * Dimension, Dimension);
        }
    }

    /// <summary>Reference equality of the buffers plus equal shape (no element comparison).</summary>
    public bool Equals(ReadOnlyMultiVector other) => Values.Equals(other.Values) && Dimension == other.Dimension;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ReadOnlyMultiVector other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Values, Dimension);

    /// <summary>Returns whether two views are equal (same buffer, same shape).</summary>
    public static bool operator ==(ReadOnlyMultiVector left, ReadOnlyMultiVector right) => left.Equals(right);

    /// <summary>Returns whether two views differ.</summary>
    public static bool operator !=(ReadOnlyMultiVector left, ReadOnlyMultiVector right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => $"ReadOnlyMultiVector({Count} × {Dimension})";
}
