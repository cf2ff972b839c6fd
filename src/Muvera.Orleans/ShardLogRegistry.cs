// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Generic;

namespace Muvera.Orleans;

/// <summary>The write-ahead logs a silo holds open, closed when the silo's services are disposed, however the silo
/// stopped: a silo stopped without deactivating its grains (in-process hosts, a failed shutdown) releases its logs'
/// locks as the operating system would at process exit, so the shards can reactivate elsewhere.</summary>
internal sealed class ShardLogRegistry : IDisposable
{
    private readonly HashSet<ShardWriteAheadLog> _open = [];
    private bool _disposed;

    public void Add(ShardWriteAheadLog log)
    {
        lock (_open)
        {
            if (_disposed)
            {
                log.Dispose();
                throw new ObjectDisposedException(nameof(ShardLogRegistry), "The silo is stopping.");
            }

            _open.Add(log);
        }
    }

    public void Remove(ShardWriteAheadLog log)
    {
        lock (_open)
        {
            _open.Remove(log);
        }
    }

    public void Dispose()
    {
        lock (_open)
        {
            _disposed = true;
            foreach (ShardWriteAheadLog log in _open)
            {
                log.Dispose();
            }

            _open.Clear();
        }
    }
}
