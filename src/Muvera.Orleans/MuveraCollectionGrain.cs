// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using Orleans;

namespace Muvera.Orleans;

/// <summary>Creates and reads collection manifests under the data root; one activation per collection serializes
/// concurrent creations.</summary>
internal sealed class MuveraCollectionGrain : Grain, IMuveraCollectionGrain
{
    private readonly MuveraSiloOptions _options;

    public MuveraCollectionGrain(IOptions<MuveraSiloOptions> options)
    {
        _options = options.Value;
    }

    public Task<MuveraCollectionManifest> CreateAsync(int shardCount, string profile)
    {
        string name = this.GetPrimaryKeyString();
        string root = MuveraShardGrain.Root(_options);
        if (!_options.Profiles.TryGetValue(profile, out MuveraShardProfile? shardProfile))
        {
            throw new ArgumentException(
                $"Profile \"{profile}\" is not registered on silo {RuntimeIdentity} (registered: {string.Join(", ", _options.Profiles.Keys.Select(k => $"\"{k}\""))}).", nameof(profile));
        }

        var wanted = new MuveraCollectionManifest(name, shardCount, profile, shardProfile.Dimension);
        MuveraCollectionManifest? existing = MuveraCollectionManifest.Read(root, name);
        if (existing is not null)
        {
            if (existing != wanted)
            {
                throw new ArgumentException(
                    $"Collection \"{name}\" already exists with {existing.ShardCount} shards, profile \"{existing.Profile}\", dimension {existing.Dimension}; asked for {shardCount} shards, profile \"{profile}\", dimension {wanted.Dimension}.",
                    nameof(shardCount));
            }

            return Task.FromResult(existing);
        }

        wanted.Write(root);
        return Task.FromResult(wanted);
    }

    public Task<MuveraCollectionManifest?> GetAsync() =>
        Task.FromResult(MuveraCollectionManifest.Read(MuveraShardGrain.Root(_options), this.GetPrimaryKeyString()));
}
