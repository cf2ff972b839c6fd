// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;

namespace Muvera;

/// <summary>Where an index's build time went (<see cref="MuveraIndex.BuildTimes"/>): wall-clock time of each stage of
/// adding documents, summed over every add since the index was created or loaded.</summary>
/// <param name="TokenEncoding">Preparing the token vectors for storage: validation, normalisation, and encoding with a
/// quantized token storage (training its codec on a first batch included).</param>
/// <param name="FdeEncoding">Encoding the documents' FDEs.</param>
/// <param name="Indexing">Adding the FDEs to the MIPS index (quantizing them, assigning them to lists, building a graph,
/// training a quantizer on a first batch included).</param>
public readonly record struct MuveraBuildTimes(TimeSpan TokenEncoding, TimeSpan FdeEncoding, TimeSpan Indexing);
