using Xtf.Core.Testing;

namespace Xtf.Tests.Runner;

/// <summary>
/// An <see cref="ITestEngine"/> that answers from scripted console logs. The result is decided from
/// the log as the real engine decides it; an unscripted instance prints a passing example log.
/// Thread-safe, so the runner may call it from its <c>-j</c> workers; scripting happens before the run.
/// </summary>
internal sealed class FakeTestEngine : ITestEngine
{
    private readonly object gate = new();
    private readonly Dictionary<string, List<(string[] Lines, string? Diagnostic)>> scripts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Exception> throws = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> delays = new(StringComparer.Ordinal);
    private int inFlight;
    private int rendezvous;
    private TimeSpan rendezvousLimit;

    /// <summary>Every call, in the order the calls began.</summary>
    public List<(TestInstance Instance, RunSettings Settings)> Runs { get; } = [];

    /// <summary>The most runs that were in progress at once.</summary>
    public int MaxConcurrent { get; private set; }

    /// <summary>Called at the start of each run (on the worker's thread), after it is recorded.</summary>
    public Action<TestInstance>? OnRun { get; set; }

    public FakeTestEngine Log(string id, params string[] lines)
    {
        scripts[id] = [(lines, null)];
        return this;
    }

    public FakeTestEngine Result(string id, string result) =>
        Log(id, ResultLog(result));

    /// <summary>Successive runs of <paramref name="id"/> report these results in turn (the last one repeats).</summary>
    public FakeTestEngine Results(string id, params string[] results)
    {
        scripts[id] = [.. results.Select(r => (ResultLog(r), (string?)null))];
        return this;
    }

    public FakeTestEngine Crash(string id, string diagnostic, params string[] lines)
    {
        scripts[id] = [(lines, diagnostic)];
        return this;
    }

    public FakeTestEngine Throw(string id, Exception exception)
    {
        throws[id] = exception;
        return this;
    }

    /// <summary>Runs of <paramref name="id"/> take this long, so instances complete out of selection order under <c>-j</c>.</summary>
    public FakeTestEngine Delay(string id, TimeSpan delay)
    {
        delays[id] = delay;
        return this;
    }

    /// <summary>
    /// Each run waits (up to <paramref name="limit"/>) until <paramref name="count"/> runs are in
    /// progress at once: with fewer workers the wait times out, so <see cref="MaxConcurrent"/> tells
    /// how many really ran side by side.
    /// </summary>
    public FakeTestEngine Rendezvous(int count, TimeSpan limit)
    {
        rendezvous = count;
        rendezvousLimit = limit;
        return this;
    }

    public static string[] SuccessLog(TestInstance instance) =>
        ["--- Xen Test Framework ---", $"Environment: {instance.Environment}", instance.Test.Title, "Test result: SUCCESS"];

    private static string[] ResultLog(string result) =>
        ["--- Xen Test Framework ---", "Environment: fake", $"Test result: {result}"];

    public InstanceOutcome Run(TestInstance instance, RunSettings settings)
    {
        (string[] Lines, string? Diagnostic)? script = null;
        lock (gate)
        {
            Runs.Add((instance, settings));
            inFlight++;
            MaxConcurrent = Math.Max(MaxConcurrent, inFlight);
            Monitor.PulseAll(gate);
            if (scripts.TryGetValue(instance.Id, out var s))
            {
                int call = calls.GetValueOrDefault(instance.Id);
                calls[instance.Id] = call + 1;
                script = s[Math.Min(call, s.Count - 1)];
            }

            if (rendezvous > 0)
            {
                var until = DateTime.UtcNow + rendezvousLimit;
                // (The time left is taken once: read twice, it can turn negative in between.)
                for (var left = until - DateTime.UtcNow; inFlight < rendezvous && left > TimeSpan.Zero; left = until - DateTime.UtcNow)
                    Monitor.Wait(gate, left);
            }
        }

        try
        {
            OnRun?.Invoke(instance);
            if (delays.TryGetValue(instance.Id, out var delay))
                Thread.Sleep(delay);
            if (throws.TryGetValue(instance.Id, out var e))
                throw e;
            var (lines, diagnostic) = script ?? (SuccessLog(instance), null);
            var result = TestResults.FromConsoleLog(lines);
            return new InstanceOutcome(
                instance,
                result,
                string.Join("\n", lines),
                lines,
                result == TestResult.Crash ? diagnostic : null,
                Instructions: 1000,
                Elapsed: TimeSpan.FromMilliseconds(1));
        }
        finally
        {
            lock (gate)
                inFlight--;
        }
    }
}
