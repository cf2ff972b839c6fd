// Copyright (c) Muvera contributors. Licensed under the MIT License.

namespace Muvera;

/// <summary>What a long <see cref="MuveraIndex"/> operation is doing when it reports progress.</summary>
public enum MuveraProgressStage
{
    /// <summary><see cref="MuveraIndex.AddRange(System.Collections.Generic.IReadOnlyList{string}, System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector}, System.Threading.Tasks.ParallelOptions, System.IProgress{MuveraProgress})"/>:
    /// <see cref="MuveraProgress.Completed"/> counts documents whose FDEs are encoded; the report with
    /// <c>Completed == Total</c> comes after they were added.</summary>
    AddingDocuments = 0,

    /// <summary><see cref="MuveraIndex.Calibrate(System.Collections.Generic.IReadOnlyList{ReadOnlyMultiVector}, int, double, System.IProgress{MuveraProgress})"/>:
    /// <see cref="MuveraProgress.Completed"/> counts sample queries examined (exact and FDE rankings); the report with
    /// <c>Completed == Total</c> comes after the calibration is stored.</summary>
    Calibrating = 1,
}

/// <summary>One progress report of a long <see cref="MuveraIndex"/> operation.</summary>
/// <param name="Stage">What the operation is doing.</param>
/// <param name="Completed">Items done so far, 0 ≤ Completed ≤ Total; never decreases within one call.</param>
/// <param name="Total">Items in the call (documents or sample queries).</param>
/// <remarks>An operation reports on the thread that called it, synchronously, and always ends with
/// <c>Completed == Total</c> when it succeeds (a failed or cancelled call never reports that). Handlers should be
/// quick: the operation waits for them.</remarks>
public readonly record struct MuveraProgress(MuveraProgressStage Stage, int Completed, int Total);
