// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;

namespace Muvera.Orleans;

/// <summary>Registers the Muvera shard grains on a silo.</summary>
public static class MuveraSiloBuilderExtensions
{
    /// <summary>Hosts Muvera shards on this silo: configures <see cref="MuveraSiloOptions"/> (data root, profiles).
    /// Every silo of the cluster must be configured alike (same root, same profiles).</summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="configure">Sets the data root and registers profiles.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static ISiloBuilder AddMuveraShards(this ISiloBuilder builder, Action<MuveraSiloOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Configure(configure);
        builder.Services.AddSingleton<ShardLogRegistry>();
        return builder;
    }
}
