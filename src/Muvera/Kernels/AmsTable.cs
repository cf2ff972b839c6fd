// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera.Kernels;

/// <summary>
/// The sparse AMS matrices of all repetitions in the layout <see cref="FdeKernels.SparseProject{TLanes, TVec}"/>
/// reads: per repetition, the input coordinates grouped by output column (a stable counting sort, so indices
/// increase inside a column), each column padded with sign-0 members to a multiple of 4.
/// </summary>
internal sealed class AmsTable
{
    private readonly int[] _order;
    private readonly float[] _signs;
    private readonly int[] _starts;
    private readonly int _stride;
    private readonly int _outputs;

    /// <summary>Builds the table from the reference's per-repetition column and sign of every input coordinate.</summary>
    public AmsTable(int[][] columns, float[][] signs, int dimension, int outputs)
    {
        int repetitions = columns.Length;
        _outputs = outputs;
        _stride = dimension + (3 * outputs);
        _order = new int[repetitions * _stride];
        _signs = new float[repetitions * _stride];
        _starts = new int[repetitions * (outputs + 1)];
        int[] sizes = new int[outputs];
        int[] cursor = new int[outputs];
        for (int r = 0; r < repetitions; r++)
        {
            Array.Clear(sizes);
            foreach (int column in columns[r])
            {
                sizes[column]++;
            }

            Span<int> starts = _starts.AsSpan(r * (outputs + 1), outputs + 1);
            for (int j = 0; j < outputs; j++)
            {
                starts[j + 1] = starts[j] + ((sizes[j] + 3) & ~3);
                cursor[j] = starts[j];
            }

            for (int i = 0; i < dimension; i++)
            {
                int q = cursor[columns[r][i]]++;
                _order[(r * _stride) + q] = i;
                _signs[(r * _stride) + q] = signs[r][i];
            }
        }
    }

    /// <summary>Yᵀ of repetition <paramref name="repetition"/> (outputs × columns) from Xᵀ (dimension × columns).</summary>
    public void Project<TLanes, TVec>(int repetition, ReadOnlySpan<float> transposed, int columns, Span<float> projected)
        where TLanes : struct, ILanes<TVec>
        where TVec : struct =>
        FdeKernels.SparseProject<TLanes, TVec>(transposed, columns, _order.AsSpan(repetition * _stride, _stride),
            _signs.AsSpan(repetition * _stride, _stride), _starts.AsSpan(repetition * (_outputs + 1), _outputs + 1), _outputs, projected);
}
