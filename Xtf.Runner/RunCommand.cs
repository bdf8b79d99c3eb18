using System.Text;
using Xtf.Core.Testing;

namespace Xtf.Runner;

/// <summary>
/// Runs a selection as xtf-runner does: each instance's console log (unless quiet) in selection
/// order, then the <c>Combined test results:</c> table; with <c>-j N</c> the instances run N at a
/// time and stdout is still exactly that of a serial run. <c>--repeat</c> runs the whole selection
/// again, round after round. Once <see cref="RunOptions.Stop"/> is cancelled no instance starts:
/// the table holds the instances that ran, and a line after it says how many did not.
/// </summary>
internal sealed class RunCommand
{
    private readonly ITestEngine engine;
    private readonly TextWriter stdout;
    private readonly TextWriter stderr;
    private readonly RunOptions options;
    private readonly List<InstanceOutcome> reported = [];

    public RunCommand(ITestEngine engine, TextWriter stdout, TextWriter stderr, RunOptions options)
    {
        this.engine = engine;
        this.stdout = stdout;
        this.stderr = stderr;
        this.options = options;
    }

    /// <summary>
    /// Runs every round (until <see cref="RunOptions.Stop"/>); returns the exit code of the results and
    /// every outcome, round after round. <paramref name="notRun"/> counts the planned instances that never
    /// started; <paramref name="interruptedBy"/> names what stopped the run (for the line after the table), null when nothing did.
    /// </summary>
    public int Run(IReadOnlyList<TestInstance> selection, RunSettings settings, Func<string?> interruptedBy, out IReadOnlyList<InstanceOutcome> outcomes, out int notRun)
    {
        int planned = selection.Count * options.Rounds;
        var progress = new ProgressReporter(stderr, options.Interactive, planned);
        var rounds = new List<IReadOnlyList<InstanceOutcome>>();
        for (int round = 1; round <= options.Rounds && !options.Stop.IsCancellationRequested; round++)
        {
            options.Logfile?.Prepare(selection);
            var collected = new InstanceOutcome[selection.Count];
            int r = round;
            int ran = MatrixRun.Run(
                engine,
                selection,
                settings,
                options.Jobs,
                inOrder: (i, outcome) => collected[i] = Report(outcome, r, progress),
                completed: progress.Completed,
                stop: options.Stop).Count;
            if (ran > 0)
                rounds.Add(collected[..ran]);
        }

        progress.Clear();
        outcomes = [.. rounds.SelectMany(r => r)];
        notRun = planned - outcomes.Count;
        int exit = ResultsSummary.Write(stdout, rounds, options.Expectations, options.Quiet, options.MarkOrigin);
        if (interruptedBy() is { } reason)
            stdout.WriteLine($"Interrupted by {reason}: {outcomes.Count} of {planned} instances ran, {notRun} did not");
        stdout.Flush();
        return exit;
    }

    /// <summary>The outcomes reported so far, in order (safe from any thread): what a second signal's reports hold.</summary>
    public IReadOnlyList<InstanceOutcome> Reported()
    {
        lock (reported)
            return [.. reported];
    }

    /// <summary>One instance's outcome, in selection order: its log files, then its console output.</summary>
    private InstanceOutcome Report(InstanceOutcome outcome, int round, ProgressReporter progress)
    {
        WriteInstanceLog(outcome, round);
        string? logfile = null;
        if (options.Logfile is { } mode)
            (logfile, outcome) = mode.Collect(outcome);

        if (options.Quiet == 0)
        {
            progress.Clear();
            if (logfile is not null)
                stdout.WriteLine($"Using logfile '{logfile}'");
            foreach (var line in outcome.Lines)
                stdout.WriteLine(line);
            if (outcome.Result == TestResult.Crash && !string.IsNullOrEmpty(outcome.Diagnostic))
                stdout.WriteLine(RunnerApp.OneLine(outcome.Diagnostic));
            stdout.WriteLine();
            stdout.Flush();
            progress.Draw();
        }

        if (options.Verbose && outcome.HostException is { } trace)
        {
            progress.Clear();
            stderr.WriteLine($"{outcome.Instance.Id}: {HostExceptionHeader}");
            stderr.WriteLine(trace);
            stderr.Flush();
            progress.Draw();
        }

        lock (reported)
            reported.Add(outcome);
        return outcome;
    }

    /// <summary>The line before a host exception's trace in a log file and on stderr.</summary>
    internal const string HostExceptionHeader = "xtf-runner: host exception (type, message, stack trace):";

    /// <summary>What follows an instance's console log in its log file: a host exception's trace under <see cref="HostExceptionHeader"/> (on a line of its own), or nothing.</summary>
    internal static string LogTrailer(InstanceOutcome outcome)
    {
        if (outcome.HostException is not { } trace)
            return "";
        string newline = outcome.ConsoleLog.Length > 0 && !outcome.ConsoleLog.EndsWith('\n') ? "\n" : "";
        return $"{newline}{HostExceptionHeader}\n{trace.ReplaceLineEndings("\n")}\n";
    }

    /// <summary>
    /// <c>--logs DIR</c>: one instance's console log, exactly as the guest wrote it, then any host exception's trace (<see cref="LogTrailer"/>), in
    /// <c>DIR/&lt;id&gt;.log</c> (an upstream image's in <c>DIR/upstream/</c> when ours run beside them); with <c>--repeat N</c> (N &gt; 1) in <c>DIR/round-K/&lt;id&gt;.log</c>, so no round's log is lost.
    /// </summary>
    private void WriteInstanceLog(InstanceOutcome outcome, int round)
    {
        if (options.LogsDirectory is not { } logs)
            return;
        string directory = options.Rounds > 1 ? Path.Combine(logs, $"round-{round}") : logs;
        if (options.MarkOrigin && outcome.Instance.Test.Upstream is not null)
            directory = Path.Combine(directory, TestDescriptor.UpstreamOrigin);
        string path = Path.Combine(directory, outcome.Instance.Id + ".log");
        try
        {
            System.IO.Directory.CreateDirectory(directory);
            File.WriteAllText(path, outcome.ConsoleLog + LogTrailer(outcome), Encoding.Latin1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RunnerException($"--logs: cannot write '{path}': {e.Message}");
        }
    }
}
