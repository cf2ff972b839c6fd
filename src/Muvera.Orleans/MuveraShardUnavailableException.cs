// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;
using System.Globalization;

namespace Muvera.Orleans;

/// <summary>One or more shards of a collection did not answer (their silo died and they are not reactivated yet, or
/// their activation failed), so an operation that needs them failed rather than returning an incomplete result.</summary>
public sealed class MuveraShardUnavailableException : Exception
{
    /// <summary>An exception with a default message.</summary>
    public MuveraShardUnavailableException()
        : this("A shard is unavailable.")
    {
    }

    /// <summary>An exception with a message.</summary>
    /// <param name="message">The message.</param>
    public MuveraShardUnavailableException(string message)
        : base(message)
    {
        Shards = [];
    }

    /// <summary>An exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public MuveraShardUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Shards = [];
    }

    /// <summary>An exception naming the collection and the shards that failed; the message names them too.</summary>
    /// <param name="collection">The collection.</param>
    /// <param name="shards">The shards that did not answer.</param>
    /// <param name="innerException">The first shard's failure.</param>
    public MuveraShardUnavailableException(string collection, IReadOnlyList<int> shards, Exception? innerException)
        : base(string.Create(CultureInfo.InvariantCulture,
            $"Collection '{collection}': shard{(shards.Count == 1 ? "" : "s")} {string.Join(", ", shards)} did not answer ({innerException?.GetType().Name}: {innerException?.Message}); the result would be incomplete."), innerException)
    {
        Collection = collection;
        Shards = shards;
    }

    /// <summary>The collection, when known.</summary>
    public string? Collection { get; }

    /// <summary>The shards that did not answer.</summary>
    public IReadOnlyList<int> Shards { get; }
}
