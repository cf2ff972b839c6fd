// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Muvera;

/// <summary>Throw sites kept out of line so that the callers stay small and inlinable.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgument(string message, string paramName) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, object? actualValue, string message) =>
        throw new ArgumentOutOfRangeException(paramName, actualValue, message);

    [DoesNotReturn]
    public static void ThrowRaggedLength(string paramName, int length, int dimension) =>
        throw new ArgumentException($"{paramName} length {length} is not a multiple of dimension {dimension}.", paramName);

    [DoesNotReturn]
    public static void ThrowDimensionMismatch(string paramName, int actual, int expected) =>
        throw new ArgumentException($"{paramName} has token dimension {actual}, but the encoder's dimension is {expected}.", paramName);

    [DoesNotReturn]
    public static void ThrowDestinationTooShort(string paramName, int length, int required) =>
        throw new ArgumentException($"{paramName} length {length} is shorter than the required {required}.", paramName);

    /// <summary>Reports the first value of <paramref name="values"/> that is NaN, ±∞ or not smaller than
    /// <see cref="FdeEncoder.TokenValueLimit"/> in magnitude, with its token and coordinate.</summary>
    [DoesNotReturn]
    public static void ThrowTokenValue(string paramName, string subject, ReadOnlySpan<float> values, int dimension)
    {
        int index = 0;
        while (index < values.Length && Math.Abs(values[index]) < FdeEncoder.TokenValueLimit)
        {
            index++;
        }

        float value = index < values.Length ? values[index] : float.NaN;
        string what = float.IsFinite(value)
            ? $"the value {value}, beyond the limit of ±{FdeEncoder.TokenValueLimit.ToString(CultureInfo.InvariantCulture)} (FdeEncoder.TokenValueLimit),"
            : $"a non-finite value {value}";
        throw new ArgumentException(
            $"{subject} holds {what} at token {index / dimension}, coordinate {index % dimension}; token vectors must be finite, " +
            "with every coordinate smaller than 2^20 = 1048576 in magnitude (so that FDEs and Chamfer scores cannot overflow).",
            paramName);
    }

    [DoesNotReturn]
    public static void ThrowNonFinite(string paramName, ReadOnlySpan<float> values, int dimension)
    {
        int index = 0;
        while (index < values.Length && float.IsFinite(values[index]))
        {
            index++;
        }

        float value = index < values.Length ? values[index] : float.NaN;
        throw new ArgumentException(
            $"{paramName} holds a non-finite value {value} at token {index / dimension}, coordinate {index % dimension}; token vectors must be finite.",
            paramName);
    }
}
