// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;

namespace Muvera.Prng;

/// <summary>Transcendental functions from IEEE basic operations only, so results never depend on the C library or CPU.</summary>
internal static class DeterministicMath
{
    // fdlibm's split of ln 2: Ln2Hi has 32 trailing zero bits, so e * Ln2Hi is exact for |e| < 2^20.
    private const double Ln2Hi = 6.93147180369123816490e-01;
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double Sqrt2 = 1.41421356237309504880;

    /// <summary>
    /// Natural logarithm of a positive, finite, normal double, accurate to a few double ulps (so its rounding to
    /// float is correct except when the exact value lies within about 1e-15 of a float rounding boundary).
    /// </summary>
    /// <remarks>
    /// x = m·2^e with m in [√½, √2); ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716, summed through s^29, where
    /// the next term is below 2^-60 relative. Uses only +, −, ×, ÷ on doubles (no fused operations).
    /// </remarks>
    public static double Log(double x)
    {
        Debug.Assert(x > 0 && double.IsNormal(x));
        long bits = BitConverter.DoubleToInt64Bits(x);
        int exponent = (int)((bits >> 52) & 0x7FF) - 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > Sqrt2)
        {
            m *= 0.5;
            exponent++;
        }

        double f = m - 1.0;
        double s = f / (2.0 + f);
        double s2 = s * s;

        // Horner over 1 + s²/3 + s⁴/5 + … + s²⁸/29.
        double series = 1.0 / 29.0;
        for (int n = 27; n >= 1; n -= 2)
        {
            series = (series * s2) + (1.0 / n);
        }

        double logM = 2.0 * s * series;
        return (exponent * Ln2Hi) + ((exponent * Ln2Lo) + logM);
    }
}
