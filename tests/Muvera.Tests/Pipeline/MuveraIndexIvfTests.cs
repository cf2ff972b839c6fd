// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.IO;
using System.Linq;
using Muvera.Indexing;

namespace Muvera.Tests.Pipeline;

/// <summary><see cref="MuveraIndex"/> over the inverted-file backend: exact reranking, probes per search, calibration of
/// probes with candidates, save/load with the probes and the lists, and training from an explicit sample.</summary>
[TestFixture]
public sealed class MuveraIndexIvfTests
{
    private static readonly FdeStorage s_storage = FdeStorage.ProductQuantization(4, 4).WithRefinement(4, 2, 2) with { TrainingRows = 200 };

    private string _root = "";

    [SetUp]
    public void SetUp()
    {
        _root = Path.Combine(Path.GetTempPath(), "muvera-ivf-index-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    [Test]
    public void Search_WithEveryListAndDocument_EqualsDoublePrecisionBruteForce_AndFewerProbesFindFewerCandidates()
    {
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 600, backend: new IvfMipsBackend(s_storage, lists: 16));
        var ivf = (IvfMipsIndex)index.MipsIndexForTests;
        Assert.That(ivf.IsTrained, Is.True);
        double few = 0, all = 0;
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            MuveraSearchHit[] exact = index.Search(query, 10, new MuveraSearchOptions { Candidates = corpus.Ids.Length, Probes = 16 });
            var reference = MuveraIndexTests.ReferenceTopK(query, corpus.Ids, corpus.Documents, 10);
            Assert.That(exact.Select(h => h.Id), Is.EqualTo(reference.Select(r => r.Id)));

            string[] truth = reference.Select(r => r.Id).ToArray();
            few += index.Search(query, 10, new MuveraSearchOptions { Candidates = 30, Probes = 1 }).Select(h => h.Id).Intersect(truth).Count();
            all += index.Search(query, 10, new MuveraSearchOptions { Candidates = 30, Probes = 16 }).Select(h => h.Id).Intersect(truth).Count();
        }

        TestContext.Out.WriteLine($"recall@10 with N = 30: 1 probe {few / (10.0 * corpus.Queries.Length):F3}, 16 probes {all / (10.0 * corpus.Queries.Length):F3}");
        Assert.That(few, Is.LessThanOrEqualTo(all));
    }

    [Test]
    public void Calibrate_ChoosesProbesAndCandidatesThatReachTheTarget_AndSaveLoadKeepsThem()
    {
        using MuveraIndex index = MuveraIndexTests.BuildSmall(out SyntheticCorpus corpus, documents: 600, backend: new IvfMipsBackend(s_storage, lists: 16) { Probes = 1 });
        MuveraCalibration calibration = index.Calibrate(corpus.Queries, 5, 0.9);
        Assert.Multiple(() =>
        {
            Assert.That(calibration.TargetReached, Is.True);
            Assert.That(calibration.Probes, Is.InRange(1, 16));
        });

        // The calibrated pair reaches the target on the calibration queries when searched with.
        double found = 0;
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            string[] truth = index.SearchExact(query, 5).Select(h => h.Id).ToArray();
            found += index.Search(query, 5, MuveraSearchOptions.Default).Select(h => h.Id).Intersect(truth).Count();
        }

        Assert.That(found / (5.0 * corpus.Queries.Length), Is.GreaterThanOrEqualTo(calibration.AchievedRecall - 1e-9));

        string directory = Path.Combine(_root, "index");
        index.Save(directory);
        using MuveraIndex loaded = MuveraIndex.Load(directory);
        Assert.Multiple(() =>
        {
            Assert.That(loaded.Backend, Is.TypeOf<IvfMipsBackend>());
            Assert.That(((IvfMipsBackend)loaded.Backend).Lists, Is.EqualTo(16));
            Assert.That(((IvfMipsBackend)loaded.Backend).Storage, Is.EqualTo(s_storage));
            Assert.That(loaded.Calibration, Is.EqualTo(calibration).Using<MuveraCalibration>((a, b) => a.Probes == b.Probes && a.Candidates == b.Candidates));
        });
        foreach (ReadOnlyMultiVector query in corpus.Queries)
        {
            Assert.That(loaded.Search(query, 5, MuveraSearchOptions.Default), Is.EqualTo(index.Search(query, 5, MuveraSearchOptions.Default)));
        }
    }

    [Test]
    public void AddRange_MoreDocumentsThanOneFdeArrayHolds_FailsNamingTheLimit_AndChangesNothing()
    {
        // 2^22-float FDEs (64 repetitions × 2^6 partitions × 1,024): one call holds at most 511 documents' FDEs.
        FdeOptions wide = MuveraIndexTests.SmallFde with { Repetitions = 64, SimHashProjections = 6, ProjectionDimension = 1024 };
        Assert.That(wide.OutputDimension, Is.EqualTo(FdeOptions.MaxOutputFloats));
        int limit = MuveraIndex.MaxDocumentsPerAdd(wide.OutputDimension);
        Assert.That(limit, Is.EqualTo(Array.MaxLength / FdeOptions.MaxOutputFloats));
        using var index = MuveraIndex.Create(new MuveraIndexOptions { Fde = wide });
        var document = new ReadOnlyMultiVector(new float[MuveraIndexTests.Dimension], MuveraIndexTests.Dimension);
        string[] ids = Enumerable.Range(0, limit + 1).Select(i => "d" + i).ToArray();
        ReadOnlyMultiVector[] documents = Enumerable.Repeat(document, limit + 1).ToArray();
        Assert.That(() => index.AddRange(ids, documents), Throws.ArgumentException
            .With.Property("ParamName").EqualTo("documents")
            .And.Message.Contains($"add at most {limit} documents per call"));
        Assert.That(index.Count, Is.Zero);
        Assert.That(() => MuveraIndex.MaxDocumentsPerAdd(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void Train_WithASample_TrainsTheListsFromTheSample_AndAddsLaterDocumentsIntoThem()
    {
        var corpus = SyntheticCorpus.Create(500, 6, seed: 21, dimension: MuveraIndexTests.Dimension, tokens: 10, queryTokens: 6, topics: 40);
        using var index = MuveraIndex.Create(new MuveraIndexOptions { Fde = MuveraIndexPartitionsTests.LearnedFde }, new IvfMipsBackend(s_storage, lists: 8));
        index.Train(corpus.Documents.Take(300).ToArray());
        var ivf = (IvfMipsIndex)index.MipsIndexForTests;
        Assert.That(ivf.IsTrained, Is.True, "an explicit sample of at least TrainingRows documents trains the lists");
        index.AddRange(corpus.Ids, corpus.Documents);
        Assert.Multiple(() =>
        {
            Assert.That(ivf.Count, Is.EqualTo(500));
            Assert.That(ivf.ListSizes.Sum(), Is.EqualTo(500));
            Assert.That(index.BuildTimes.FdeEncoding, Is.GreaterThan(TimeSpan.Zero));
            Assert.That(index.BuildTimes.Indexing, Is.GreaterThan(TimeSpan.Zero));
        });
    }
}
