// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System.Linq;
using Muvera.Gpu.Tests.Fixtures;

namespace Muvera.Gpu.Tests;

/// <summary>The kernel on a real CUDA device against the CPU scorer; skipped (ignored) where there is no GPU.</summary>
[TestFixture]
public sealed class GpuChamferScorerCudaTests
{
    [Test]
    public void TopKBatch_CudaDevice_EqualsCpuScorer()
    {
        if (!GpuChamferScorer.TryCreate(out GpuChamferScorer? scorer))
        {
            Assert.Ignore("No CUDA device: the CUDA run of the kernel is skipped.");
            return;
        }

        using (scorer)
        {
            TestContext.Out.WriteLine(scorer.ToString());
            var random = new System.Random(90);
            foreach (StoreElementType type in new[] { StoreElementType.Float32, StoreElementType.Float16 })
            {
                using MultiVectorStore store = CpuAccelerator.RandomStore(91, 128, type, Enumerable.Range(0, 2000).Select(i => i % 101));
                ReadOnlyMultiVector[] queries = [.. new[] { 1, 31, 32, 33, 64 }.Select(n => CpuAccelerator.RandomQuery(random, n, 128))];
                ScoredId[][] results = scorer.TopKBatch(queries, store, store.Count);
                for (int q = 0; q < queries.Length; q++)
                {
                    CpuAccelerator.AssertEqualsCpu(queries[q], store, results[q], $"{type} |Q|={queries[q].Count}");
                }
            }
        }
    }
}
