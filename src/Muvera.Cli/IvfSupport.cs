// Copyright (c) Muvera contributors. Licensed under the MIT License.

using Muvera.Indexing;

namespace Muvera.Cli;

/// <summary>The IVF probe count and the index's build times, in one place.</summary>
internal static class IvfSupport
{
    /// <summary><paramref name="options"/> with <paramref name="probes"/> IVF probes (null: calibrated or default).</summary>
    public static MuveraSearchOptions WithProbes(MuveraSearchOptions options, int? probes) => options;

    /// <summary>The calibrated IVF probe count, or null for other indexes.</summary>
    public static int? CalibratedProbes(MuveraCalibration calibration) => null;

    /// <summary>The index's cumulative token encoding, FDE encoding and MIPS indexing seconds.</summary>
    public static (double? TokenEncoding, double? FdeEncoding, double? Indexing) BuildTimes(MuveraIndex index) => (null, null, null);

    /// <summary>How the backend stores FDEs, or null when it does not say.</summary>
    public static FdeStorage? FdeStorage(MipsBackend backend) => (backend as FlatMipsBackend)?.Storage;
}
