// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;

namespace Muvera.Beir;

/// <summary>Values of every <see cref="RetrievalMeasure"/> at every cutoff, shared by the per-query and mean results.</summary>
internal sealed class MetricTable
{
    private const int MeasureCount = 5;
    private readonly int[] _cutoffs;
    private readonly double[] _values;

    public MetricTable(int[] cutoffs)
    {
        _cutoffs = cutoffs;
        _values = new double[MeasureCount * cutoffs.Length];
    }

    public IReadOnlyList<int> Cutoffs => _cutoffs;

    public double this[RetrievalMeasure measure, int cutoffIndex]
    {
        get => _values[((int)measure * _cutoffs.Length) + cutoffIndex];
        set => _values[((int)measure * _cutoffs.Length) + cutoffIndex] = value;
    }

    public double Get(RetrievalMeasure measure, int k)
    {
        if ((uint)measure >= MeasureCount)
        {
            throw new ArgumentOutOfRangeException(nameof(measure), measure, $"Measure {(int)measure} is not defined.");
        }

        int index = Array.IndexOf(_cutoffs, k);
        if (index < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"Cutoff {k} was not evaluated; the evaluated cutoffs are {string.Join(", ", _cutoffs)} (EvaluationOptions.Cutoffs).");
        }

        return this[measure, index];
    }

    public void Add(MetricTable other)
    {
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i] += other._values[i];
        }
    }

    public void Divide(int count)
    {
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i] /= count;
        }
    }
}
