// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Muvera.Orleans.Tests;

/// <summary>Test data and silo configuration shared by the cluster tests.</summary>
internal static class ClusterFixture
{
    public const int Dimension = 8;

    // One data root per test run, read by every in-process silo (the "shared volume" of these tests).
    public static string DataRoot { get; set; } = string.Empty;

    public static MuveraShardProfile Profile { get; } = MuveraShardProfile.CreateSimHash(Dimension);

    public static TestCluster Build(int silos)
    {
        var builder = new TestClusterBuilder((short)silos);
        builder.Options.ClusterId = "muvera-tests-" + Guid.NewGuid().ToString("N")[..8];
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        TestCluster cluster = builder.Build();
        return cluster;
    }

    public static (List<string> Ids, List<ReadOnlyMultiVector> Documents) Documents(int count, int seed, string prefix = "doc")
    {
        var random = new Random(seed);
        var ids = new List<string>(count);
        var documents = new List<ReadOnlyMultiVector>(count);
        for (int i = 0; i < count; i++)
        {
            ids.Add(prefix + i.ToString("D5", CultureInfo.InvariantCulture));
            documents.Add(Vector(random, 3 + (i % 5)));
        }

        return (ids, documents);
    }

    public static ReadOnlyMultiVector Vector(Random random, int tokens)
    {
        float[] values = new float[tokens * Dimension];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return new ReadOnlyMultiVector(values, Dimension);
    }

    public static MuveraIndex SingleIndex(IReadOnlyList<string> ids, IReadOnlyList<ReadOnlyMultiVector> documents)
    {
        var index = MuveraIndex.Create(Profile.IndexOptions, Profile.Backend);
        index.AddRange(ids, documents);
        return index;
    }

    public sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMuveraShards(options =>
            {
                options.DataRoot = DataRoot;
                options.Profiles[MuveraSiloOptions.DefaultProfile] = Profile;
            });

            // Declare a dead silo within a few seconds (the defaults take tens of seconds).
            siloBuilder.Configure<ClusterMembershipOptions>(options =>
            {
                options.ProbeTimeout = TimeSpan.FromMilliseconds(500);
                options.NumMissedProbesLimit = 1;
                options.NumVotesForDeathDeclaration = 1;
                options.TableRefreshTimeout = TimeSpan.FromSeconds(1);
                options.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(1);
            });
            siloBuilder.Services.AddSingleton(TimeProvider.System);
        }
    }

    public static string NewRoot()
    {
        string root = Path.Combine(Path.GetTempPath(), "muvera-orleans-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        return root;
    }
}
