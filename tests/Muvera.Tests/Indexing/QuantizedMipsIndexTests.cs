// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Muvera.Indexing;
using Muvera.Indexing.Codecs;
using Muvera.Tests.Fixtures;

namespace Muvera.Tests.Indexing;

/// <summary><see cref="QuantizedMipsIndex"/> beyond the MIPS conformance suite: the training life cycle, encodings
/// against a brute-force nearest-centroid reference, scores against a double-precision reference over the
/// reconstructions, determinism, codebooks that survive save/load bit for bit, and corrupt quantizer files.</summary>
[TestFixture]
public sealed class QuantizedMipsIndexTests
{
    private const int Dimension = 70; // not a multiple of 4 or 8: the last sub-space is zero-padded, and M is odd for pq:4,4 (18)

    private static readonly FdeStorage[] s_storages =
    [
        FdeStorage.ProductQuantization() with { TrainingRows = 300 },
        FdeStorage.ProductQuantization(4, 2) with { TrainingRows = 300 },
        FdeStorage.ProductQuantization(8, 8) with { TrainingRows = 300 },
        FdeStorage.ProductQuantization(4, 3) with { TrainingRows = 300 },
        FdeStorage.ProductQuantization().WithRefinement(4, 4, 2) with { TrainingRows = 300 },
        FdeStorage.ProductQuantization(8, 8).WithRefinement(8, 3, 3) with { TrainingRows = 300 },
        FdeStorage.Int8 with { TrainingRows = 300 },
    ];

    private string _directory = "";

    public static FdeStorage[] Storages => s_storages;

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "muvera-quantized-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    [TestCaseSource(nameof(Storages))]
    public void Untrained_KeepsFloatsAndSearchesExactly_ThenTrainsOnTheAddThatReachesTrainingRows(FdeStorage storage)
    {
        float[] vectors = Vectors(500, seed: 1);
        using var index = new QuantizedMipsIndex(Dimension, storage);
        using var exact = new FlatMipsIndex(Dimension);
        index.Add(vectors.AsSpan(0, 200 * Dimension));
        exact.Add(vectors.AsSpan(0, 200 * Dimension));
        Assert.Multiple(() =>
        {
            Assert.That(index.IsTrained, Is.False);
            Assert.That(index.IsExact, Is.True);
            Assert.That(index.MemoryBytes, Is.GreaterThanOrEqualTo(200L * Dimension * sizeof(float)));
        });
        float[] query = Vectors(1, seed: 2);
        Assert.That(Search(index, query, 10), Is.EqualTo(Search(exact, query, 10)), "untrained: the exact float scan");

        long untrainedBytes = index.MemoryBytes;
        Assert.That(index.Add(vectors.AsSpan(200 * Dimension)), Is.EqualTo(200));
        Assert.Multiple(() =>
        {
            Assert.That(index.IsTrained, Is.True);
            Assert.That(index.IsExact, Is.False);
            Assert.That(index.Count, Is.EqualTo(500));
            Assert.That(index.MemoryBytes - index.Codec!.ParameterLength, Is.LessThan(untrainedBytes), "codes replace the floats (the codebook is a fixed cost)");
        });
    }

    [TestCaseSource(nameof(Storages))]
    public void Encodings_EqualBruteForceNearestCentroids_AndScoresTrackTheReconstructions(FdeStorage storage)
    {
        float[] vectors = Vectors(400, seed: 3);
        using var index = new QuantizedMipsIndex(Dimension, storage);
        index.Add(vectors);
        FdeCodec codec = index.Codec!;
        float[] reconstruction = new float[Dimension];
        for (int row = 0; row < 400; row++)
        {
            index.CopyVector(row, reconstruction);
            float[] expected = ReferenceReconstruction(codec, vectors.AsSpan(row * Dimension, Dimension));
            Assert.That(reconstruction, Is.EqualTo(expected), $"{storage}: row {row} decodes to its nearest centroids");
        }

        // Scores: within the byte rounding of the inner product with the reconstruction; no row left out that scores
        // clearly better than the last one returned.
        for (int q = 0; q < 10; q++)
        {
            float[] query = Vectors(1, seed: 100 + q);
            double[] reference = Enumerable.Range(0, 400).Select(row =>
            {
                index.CopyVector(row, reconstruction);
                return TestVectors.Dot(query, reconstruction);
            }).ToArray();
            double bound = ScoreBound(codec, query);
            ScoredId[] found = Search(index, query, 20);
            Assert.That(found, Has.Length.EqualTo(20));
            foreach (ScoredId hit in found)
            {
                Assert.That(hit.Score, Is.EqualTo(reference[hit.Id]).Within(bound), $"{storage}: score of row {hit.Id}");
            }

            if (storage.HasRefinement)
            {
                // The refinement re-scores the scan's best candidates only; with every row a candidate, the search is
                // the top 20 over the reconstructions, up to the rounding.
                ScoredId[] all = Search(index, query, 400 / storage.RefineCandidates);
                double twentieth = all.Take(20).Min(h => reference[h.Id]);
                Assert.That(Enumerable.Range(0, 400).Count(row => reference[row] > twentieth + (2 * bound)), Is.LessThan(20), $"{storage}: query {q}");
                continue;
            }

            var returned = found.Select(h => h.Id).ToHashSet();
            double last = found.Min(h => reference[h.Id]);
            for (int row = 0; row < 400; row++)
            {
                Assert.That(returned.Contains(row) || reference[row] <= last + (2 * bound), Is.True, $"{storage}: row {row} ({reference[row]}) beats the returned {last} by more than the rounding");
            }
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void Training_IsDeterministic_AcrossThreadCountsAndAddPieces(FdeStorage storage)
    {
        float[] vectors = Vectors(700, seed: 5);
        byte[]? reference = null;
        foreach (int threads in new[] { 1, 2, 4 })
        {
            using var index = new QuantizedMipsIndex(Dimension, storage);
            var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
            index.Add(vectors.AsSpan(0, 100 * Dimension), options);
            index.Add(vectors.AsSpan(100 * Dimension, 250 * Dimension), options);
            index.Add(vectors.AsSpan(350 * Dimension), options);
            string path = Path.Combine(_directory, $"t{threads}.idx");
            index.Save(path);
            byte[] bytes = File.ReadAllBytes(path);
            reference ??= bytes;
            Assert.That(bytes, Is.EqualTo(reference), $"{storage}: {threads} threads gives the same codebook and codes");
        }

        using var reseeded = new QuantizedMipsIndex(Dimension, storage with { Seed = 2 });
        reseeded.Add(vectors);
        string other = Path.Combine(_directory, "seed2.idx");
        reseeded.Save(other);
        if (storage.Kind == FdeStorageKind.ProductQuantization)
        {
            Assert.That(File.ReadAllBytes(other), Is.Not.EqualTo(reference), "another seed trains another codebook");
        }
    }

    [TestCaseSource(nameof(Storages))]
    public void SaveLoad_Trained_KeepsCodebookAndCodesBitForBit_AndLaterAddsEncodeTheSame(FdeStorage storage)
    {
        float[] vectors = Vectors(600, seed: 7);
        using var index = new QuantizedMipsIndex(Dimension, storage);
        index.Add(vectors.AsSpan(0, 500 * Dimension));
        string path = Path.Combine(_directory, "a.idx");
        index.Save(path);
        using QuantizedMipsIndex loaded = QuantizedMipsIndex.Load(path);
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Storage, Is.EqualTo(storage));
            Assert.That(loaded.IsTrained, Is.True);
            Assert.That(loaded.Count, Is.EqualTo(500));
        });
        string again = Path.Combine(_directory, "b.idx");
        loaded.Save(again);
        Assert.That(File.ReadAllBytes(again), Is.EqualTo(File.ReadAllBytes(path)), "re-saving a loaded index writes the same bytes");

        index.Add(vectors.AsSpan(500 * Dimension));
        loaded.Add(vectors.AsSpan(500 * Dimension));
        for (int q = 0; q < 5; q++)
        {
            float[] query = Vectors(1, seed: 50 + q);
            Assert.That(Search(loaded, query, 15), Is.EqualTo(Search(index, query, 15)), $"{storage}: query {q}");
        }
    }

    [Test]
    public void SaveLoad_Empty_RoundTrips([Values] bool trained)
    {
        using var index = new QuantizedMipsIndex(Dimension, FdeStorage.ProductQuantization());
        if (trained)
        {
            index.Train(Vectors(100, seed: 17));
        }

        string path = Path.Combine(_directory, "empty.idx");
        index.Save(path);
        using QuantizedMipsIndex loaded = QuantizedMipsIndex.Load(path);
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Count, Is.Zero);
            Assert.That(loaded.IsTrained, Is.EqualTo(trained));
            Assert.That(loaded.Search(Vectors(1, seed: 1), 5, new ScoredId[5]), Is.Zero);
        });
    }

    [Test]
    public void Load_CorruptQuantizerOrCodes_ThrowsInvalidDataNamingTheFile()
    {
        float[] vectors = Vectors(400, seed: 9);
        using var index = new QuantizedMipsIndex(Dimension, FdeStorage.ProductQuantization() with { TrainingRows = 300 });
        index.Add(vectors);
        string path = Path.Combine(_directory, "source.idx");
        index.Save(path);
        byte[] original = File.ReadAllBytes(path);
        int parameterBytes = index.Codec!.ParameterLength;
        const int codebookStart = QuantizedMipsIndex.HeaderLength + 16;
        string damaged = Path.Combine(_directory, "damaged.idx");
        var random = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            byte[] copy = (byte[])original.Clone();
            int position = i < 100 ? codebookStart + random.Next(parameterBytes) : random.Next(original.Length);
            copy[position] ^= (byte)(1 << random.Next(8));
            File.WriteAllBytes(damaged, copy);
            var error = Assert.Throws<InvalidDataException>(() => QuantizedMipsIndex.Load(damaged).Dispose(), $"bit flip at {position}");
            Assert.That(error!.Message, Does.Contain(damaged));
            if (i < 100)
            {
                Assert.That(error.Message, Does.Contain("codebook"), $"a flip at {position} is in the codebook");
            }
        }

        // A codebook that passes its checksum but holds a non-finite value (a writer bug) is refused too.
        byte[] nan = (byte[])original.Clone();
        BitConverter.GetBytes(float.NaN).CopyTo(nan, codebookStart + 8);
        RewriteSectionChecksum(nan, codebookStart - 16, parameterBytes);
        File.WriteAllBytes(damaged, nan);
        Assert.That(() => QuantizedMipsIndex.Load(damaged), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("non-finite"));
    }

    [Test]
    public void Train_Explicitly_EncodesWhatWasAdded_AndRefusesASecondTraining()
    {
        float[] vectors = Vectors(300, seed: 11);
        using var index = new QuantizedMipsIndex(Dimension, FdeStorage.ProductQuantization());
        index.Add(vectors.AsSpan(0, 50 * Dimension));
        Assert.That(index.IsTrained, Is.False, "50 vectors are below the default 1,024");
        index.Train(vectors);
        Assert.Multiple(() =>
        {
            Assert.That(index.IsTrained, Is.True);
            Assert.That(index.Count, Is.EqualTo(50), "training does not add the sample");
        });
        index.Add(vectors.AsSpan(50 * Dimension, 10 * Dimension));
        Assert.That(index.Count, Is.EqualTo(60));
        Assert.That(() => index.Train(vectors), Throws.InvalidOperationException.With.Message.Contains("already trained"));
        Assert.That(() => new QuantizedMipsIndex(Dimension, FdeStorage.Int8).Train([]), Throws.ArgumentException.With.Property("ParamName").EqualTo("sample"));
        float[] nan = Vectors(2, seed: 1);
        nan[Dimension + 3] = float.NaN;
        Assert.That(() => new QuantizedMipsIndex(Dimension, FdeStorage.Int8).Train(nan), Throws.ArgumentException.With.Message.Contains("row 1"));
    }

    [Test]
    public void Add_CancelledWhileTraining_ChangesNothing()
    {
        float[] vectors = Vectors(400, seed: 13);
        using var index = new QuantizedMipsIndex(Dimension, FdeStorage.ProductQuantization() with { TrainingRows = 300 });
        index.Add(vectors.AsSpan(0, 200 * Dimension));
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.That(() => index.Add(vectors.AsSpan(200 * Dimension), new ParallelOptions { CancellationToken = cancellation.Token }),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.Multiple(() =>
        {
            Assert.That(index.Count, Is.EqualTo(200));
            Assert.That(index.IsTrained, Is.False);
        });
        index.Add(vectors.AsSpan(200 * Dimension));
        Assert.That(index.IsTrained, Is.True);
        Assert.That(index.Count, Is.EqualTo(400));
    }

    [Test]
    public void Constructor_BadArguments_AreRefusedWithTheirNames()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new QuantizedMipsIndex(0, FdeStorage.Int8), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("dimension"));
            Assert.That(() => new QuantizedMipsIndex(8, null!), Throws.ArgumentNullException);
            Assert.That(() => new QuantizedMipsIndex(8, FdeStorage.Float32), Throws.ArgumentException.With.Message.Contains("not quantized"));
            Assert.That(() => new QuantizedMipsIndex(8, FdeStorage.Int8).CopyVector(0, new float[8]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void CreateEmptyLike_KeepsTheTrainedQuantizer()
    {
        float[] vectors = Vectors(400, seed: 15);
        using var index = new QuantizedMipsIndex(Dimension, FdeStorage.ProductQuantization() with { TrainingRows = 300 });
        index.Add(vectors);
        using QuantizedMipsIndex empty = index.CreateEmptyLike();
        Assert.That(empty.IsTrained, Is.True);
        Assert.That(empty.Codec, Is.SameAs(index.Codec));
        empty.Add(vectors.AsSpan(0, 10 * Dimension));
        float[] a = new float[Dimension], b = new float[Dimension];
        empty.CopyVector(3, a);
        index.CopyVector(3, b);
        Assert.That(a, Is.EqualTo(b), "the same vector gets the same code");
    }

    private static float[] Vectors(int count, int seed)
    {
        // Clustered, FDE-like: a few dominant directions plus noise, so quantizers have structure to learn.
        var random = new Random(seed);
        float[] centres = TestVectors.Gaussian(new Random(1000), 12 * Dimension);
        float[] vectors = new float[count * Dimension];
        for (int i = 0; i < count; i++)
        {
            int centre = random.Next(12);
            for (int j = 0; j < Dimension; j++)
            {
                vectors[(i * Dimension) + j] = centres[(centre * Dimension) + j] + (float)(0.3 * TestVectors.NextGaussian(random));
            }
        }

        return vectors;
    }

    private static ScoredId[] Search(IMipsIndex index, float[] query, int k)
    {
        var results = new ScoredId[k];
        return results[..index.Search(query, k, results)];
    }

    // The nearest centroid of every sub-space by brute force in double (ties to the lower index), or the int8 clamp-round.
    private static float[] ReferenceReconstruction(FdeCodec codec, ReadOnlySpan<float> vector)
    {
        float[] result = new float[Dimension];
        if (codec is ScalarQuantizer scalar)
        {
            for (int j = 0; j < Dimension; j++)
            {
                double code = Math.Clamp(Math.Round((vector[j] - scalar.Offsets[j]) / (double)scalar.Scales[j], MidpointRounding.ToEven), 0, 255);
                result[j] = MathF.FusedMultiplyAdd(scalar.Scales[j], (float)code, scalar.Offsets[j]);
            }

            return result;
        }

        var pq = (ProductQuantizer)codec;
        float[] first = NearestCentroids(vector, pq.Codebook, pq.Storage.SubspaceDimension, 1 << pq.Storage.Bits);
        if (!pq.Storage.HasRefinement)
        {
            return first;
        }

        // The refinement quantizes the residual the first stage leaves, and the reconstruction is their float sum.
        float[] residual = new float[Dimension];
        for (int j = 0; j < Dimension; j++)
        {
            residual[j] = vector[j] - first[j];
        }

        float[] second = NearestCentroids(residual, pq.RefineCodebook, pq.Storage.RefineSubspaceDimension, 1 << pq.Storage.RefineBits);
        for (int j = 0; j < Dimension; j++)
        {
            result[j] = first[j] + second[j];
        }

        return result;
    }

    // Per sub-space, the centroid nearest in double precision (ties to the lower index); zero-padded past the dimension.
    private static float[] NearestCentroids(ReadOnlySpan<float> vector, ReadOnlySpan<float> codebook, int s, int k)
    {
        float[] result = new float[Dimension];
        int subspaces = (Dimension + s - 1) / s;
        for (int m = 0; m < subspaces; m++)
        {
            int best = 0;
            double bestDistance = double.PositiveInfinity;
            for (int c = 0; c < k; c++)
            {
                double distance = 0;
                for (int j = 0; j < s; j++)
                {
                    double x = (m * s) + j < Dimension ? vector[(m * s) + j] : 0;
                    distance += Math.Pow(x - codebook[(((m * k) + c) * s) + j], 2);
                }

                if (distance < bestDistance)
                {
                    bestDistance = distance;
                    best = c;
                }
            }

            for (int j = 0; j < s && (m * s) + j < Dimension; j++)
            {
                result[(m * s) + j] = codebook[(((m * k) + best) * s) + j];
            }
        }

        return result;
    }

    // How far a scan score may be from the inner product with the reconstruction: half a byte step per sub-space (PQ)
    // or per coordinate (int8, whose query is rounded to signed bytes), plus float rounding.
    private static double ScoreBound(FdeCodec codec, float[] query)
    {
        using FdeCodecQuery prepared = codec.Prepare(query);
        return codec is ScalarQuantizer
            ? (0.5 * prepared.Step * 255 * Dimension) + 1e-3
            : (0.5 * prepared.Step * ((ProductQuantizer)codec).Subspaces) + 1e-3;
    }

    // Format version 2: sections carry XxHash3 (64-bit, seed 0); version 1 carried FNV-1a 64.
    private static void RewriteSectionChecksum(byte[] file, int prefixOffset, int length, bool version1 = false)
    {
        ReadOnlySpan<byte> bytes = file.AsSpan(prefixOffset + 16, length);
        ulong hash = version1 ? TestVectors.Fnv1a64(bytes) : System.IO.Hashing.XxHash3.HashToUInt64(bytes);
        BitConverter.GetBytes(hash).CopyTo(file, prefixOffset + 8);
    }

    [Test]
    public void Load_ReadsFormatVersion1_WithFnvSectionChecksums()
    {
        float[] vectors = Vectors(400, seed: 21);
        using var index = new QuantizedMipsIndex(Dimension, FdeStorage.ProductQuantization().WithRefinement(4, 4, 2) with { TrainingRows = 300 });
        index.Add(vectors);
        string path = Path.Combine(_directory, "v2.idx");
        index.Save(path);
        byte[] file = File.ReadAllBytes(path);
        Assert.That(BitConverter.ToUInt16(file, 8), Is.EqualTo(2), "version 2 is written");

        // The same file as version 1 wrote it: FNV-1a 64 over each section, the version field 1.
        BitConverter.GetBytes((ushort)1).CopyTo(file, 8);
        BitConverter.GetBytes(TestVectors.Fnv1a64(file.AsSpan(0, 56))).CopyTo(file, 56);
        int offset = QuantizedMipsIndex.HeaderLength;
        for (int section = 0; section < 2; section++)
        {
            int length = (int)BitConverter.ToInt64(file, offset);
            RewriteSectionChecksum(file, offset, length, version1: true);
            offset += 16 + length;
        }

        Assert.That(offset, Is.EqualTo(file.Length));
        string old = Path.Combine(_directory, "v1.idx");
        File.WriteAllBytes(old, file);
        using QuantizedMipsIndex loaded = QuantizedMipsIndex.Load(old);
        float[] query = Vectors(1, seed: 22);
        var expected = new ScoredId[10];
        var got = new ScoredId[10];
        index.Search(query, 10, expected);
        loaded.Search(query, 10, got);
        Assert.That(got, Is.EqualTo(expected));

        file[offset - 3] ^= 1;
        File.WriteAllBytes(old, file);
        Assert.That(() => QuantizedMipsIndex.Load(old), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("codes checksum mismatch"));
    }
}
