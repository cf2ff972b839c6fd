// Copyright (c) Muvera contributors. Licensed under the MIT License.

using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Muvera.Cli;

/// <summary>The command's output: Spectre.Console progress bars with ETA on a terminal, plain lines (a start line,
/// every tenth and the end) when output is redirected, so that logs stay readable.</summary>
internal sealed class CliConsole
{
    private readonly IAnsiConsole _console;

    private CliConsole(IAnsiConsole console, bool interactive)
    {
        _console = console;
        IsInteractive = interactive;
    }

    public bool IsInteractive { get; }

    /// <summary>The process console: fancy output only when standard output is a terminal.</summary>
    public static CliConsole CreateForProcess()
    {
        if (!Console.IsOutputRedirected)
        {
            return new CliConsole(AnsiConsole.Console, interactive: true);
        }

        return ForWriter(Console.Out);
    }

    /// <summary>Plain output into <paramref name="writer"/> (tests, redirected output).</summary>
    public static CliConsole ForWriter(TextWriter writer)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 200;
        return new CliConsole(console, interactive: false);
    }

    /// <summary>One line, formatted with the invariant culture.</summary>
    public void Line(FormattableString text) => _console.WriteLine(text.ToString(CultureInfo.InvariantCulture));

    public void Write(IRenderable renderable) => _console.Write(renderable);

    /// <summary>Runs <paramref name="work"/> under one progress bar of <paramref name="total"/> steps; the work reports
    /// the steps done so far (from any thread).</summary>
    public T Run<T>(string description, long total, Func<IProgress<long>, T> work)
    {
        var watch = Stopwatch.StartNew();
        T result;
        if (IsInteractive)
        {
            result = _console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(),
                    new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(context =>
                {
                    ProgressTask task = context.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
                    T value = work(new TaskProgress(task));
                    task.Value = task.MaxValue;
                    return value;
                });
        }
        else
        {
            Line($"{description}: {total} …");
            result = work(new LineProgress(this, description, total));
        }

        Line($"{description}: done in {watch.Elapsed.TotalSeconds:F1} s");
        return result;
    }

    private sealed class TaskProgress(ProgressTask task) : IProgress<long>
    {
        public void Report(long value) => task.Value = value;
    }

    // At most one line every few seconds, so that logs of long phases show they are alive without flooding.
    private sealed class LineProgress(CliConsole console, string description, long total) : IProgress<long>
    {
        private static readonly long s_interval = Stopwatch.Frequency * 5;
        private long _next = Stopwatch.GetTimestamp() + s_interval;

        public void Report(long value)
        {
            long now = Stopwatch.GetTimestamp();
            long next = Volatile.Read(ref _next);
            if (now >= next && Interlocked.CompareExchange(ref _next, now + s_interval, next) == next)
            {
                console.Line($"  {description}: {value}/{total}");
            }
        }
    }
}
