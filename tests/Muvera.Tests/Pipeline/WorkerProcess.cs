// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;

namespace Muvera.Tests.Pipeline;

/// <summary>A running <c>Muvera.Tests.Worker</c> child process: its output lines as they arrive, a line to its input, and
/// a <see cref="Dispose"/> that kills it (and anything it started) unless it has exited, so a failing test never leaves one
/// behind.</summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly ConcurrentQueue<string> _all = new();
    private readonly ConcurrentQueue<string> _errors = new();

    private WorkerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            try
            {
                if (e.Data is null)
                {
                    _lines.CompleteAdding();
                    return;
                }

                _all.Enqueue(e.Data);
                _lines.Add(e.Data);
            }
            catch (ObjectDisposedException)
            {
                // A line that arrives while a killed worker is disposed.
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _errors.Enqueue(e.Data);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Whether the worker has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Every line the worker printed so far.</summary>
    public IReadOnlyList<string> Lines => [.. _all];

    /// <summary>Starts the worker with <paramref name="args"/>.</summary>
    public static WorkerProcess Start(params string[] args)
    {
        string worker = typeof(WorkerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "MuveraTestsWorker").Value!;
        Assert.That(File.Exists(worker), Is.True, $"the worker {worker} was not built (Muvera.Tests references it)");

        // The dotnet host the test runs under (the SDK sets DOTNET_HOST_PATH for the processes of `dotnet test`).
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path ? path : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(worker);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return new WorkerProcess(Process.Start(start)!);
    }

    /// <summary>Waits for the next output line, failing the test when none comes within <paramref name="timeout"/>.</summary>
    public string NextLine(TimeSpan timeout)
    {
        if (!_lines.TryTake(out string? line, timeout))
        {
            Assert.Fail($"the worker printed nothing for {timeout.TotalSeconds} s (exited: {_process.HasExited}); output: " +
                $"{string.Join(" | ", _all)}; errors: {string.Join(" | ", _errors)}");
        }

        return line!;
    }

    /// <summary>Sends one line to the worker's standard input.</summary>
    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits for the worker to exit and returns its exit code, failing the test after <paramref name="timeout"/>.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Assert.Fail($"the worker did not exit within {timeout.TotalSeconds} s; output: {string.Join(" | ", _all)}");
        }

        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>Ends the worker at once (SIGKILL on Unix), as a crash would.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>What the worker wrote to standard error.</summary>
    public string Errors => string.Join(Environment.NewLine, _errors);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        finally
        {
            _process.Dispose();
            _lines.Dispose();
        }
    }
}
