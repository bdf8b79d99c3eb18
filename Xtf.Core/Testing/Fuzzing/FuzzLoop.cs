using System.Diagnostics;

namespace Xtf.Core.Testing.Fuzzing;

/// <summary>A host exception or a hang, with the seed that reproduces it alone.</summary>
public sealed record FuzzFinding(string Mode, ulong Seed, string Kind, string Detail)
{
    /// <summary>Host exception: an exception escaped the CPU or the engine.</summary>
    public const string HostExceptionKind = "host exception";

    /// <summary>Hang: the iteration ran longer than the host-time bound.</summary>
    public const string HangKind = "hang";

    /// <summary>The command line that runs this iteration alone.</summary>
    public string Reproducer => $"xtf-runner fuzz --mode {Mode} --seed {Seed} --count 1";
}

/// <summary>What running one mode found, and what it cost.</summary>
public sealed record FuzzModeReport(string Mode, long Iterations, IReadOnlyList<FuzzFinding> Findings, TimeSpan Wall, long PeakWorkingSet, long PeakHeap)
{
    /// <summary>How the iterations that ended ended (the outcome after the last ": " of each iteration's description: a stop reason, a test result), with counts.</summary>
    public IReadOnlyDictionary<string, long> Outcomes { get; init; } = new Dictionary<string, long>();

    /// <summary>Findings of <see cref="FuzzFinding.HostExceptionKind"/>.</summary>
    public int HostExceptions => Findings.Count(f => f.Kind == FuzzFinding.HostExceptionKind);

    /// <summary>Findings of <see cref="FuzzFinding.HangKind"/>.</summary>
    public int Hangs => Findings.Count(f => f.Kind == FuzzFinding.HangKind);
}

/// <summary>
/// Runs a mode's iterations on worker threads: iteration i's seed is the base seed stepped i
/// times (<see cref="FuzzSeeds"/>), whatever the number of workers. Any exception out of an
/// iteration is a host-exception finding; an iteration still running after <see cref="HangBound"/>
/// is a hang finding (a monitor sees it while it runs; a worker that never comes back is a
/// background thread left behind when the others are done, so the command still ends).
/// </summary>
public sealed class FuzzLoop
{
    /// <summary>Host time an iteration may take before it is a hang.</summary>
    public TimeSpan HangBound { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Instruction budget of one iteration (engine modes scale it, see <see cref="FuzzModes.EngineBudgetFactor"/>).</summary>
    public long Budget { get; init; } = FuzzModes.DefaultBudget;

    /// <summary>Worker threads.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary>Runs <paramref name="count"/> iterations of <paramref name="mode"/> from <paramref name="baseSeed"/>; <paramref name="found"/> hears of each finding as it is made.</summary>
    public FuzzModeReport Run(FuzzMode mode, ulong baseSeed, long count, Action<FuzzFinding>? found = null)
    {
        var findings = new List<FuzzFinding>();
        var outcomes = new Dictionary<string, long>(StringComparer.Ordinal);
        var gate = new object();
        long next = 0, done = 0;
        ulong seed = baseSeed;
        var sw = Stopwatch.StartNew();
        int workers = (int)Math.Max(1, Math.Min(Jobs, count));
        var running = new List<(long StartedAt, ulong Seed, bool Flagged)>();

        void Report(FuzzFinding f)
        {
            lock (gate)
            {
                findings.Add(f);
                found?.Invoke(f);
            }
        }

        void Work(int w)
        {
            while (true)
            {
                ulong s;
                lock (gate)
                {
                    if (next == count)
                        return;
                    next++;
                    s = seed;
                    seed = FuzzSeeds.Next(seed);
                    running[w] = (sw.ElapsedTicks, s, false);
                }

                long started = Stopwatch.GetTimestamp();
                try
                {
                    string description = mode.Iteration(s, Budget);
                    string outcome = description[(description.LastIndexOf(": ", StringComparison.Ordinal) + 1)..].Trim();
                    lock (gate)
                        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                }
                catch (Exception e)
                {
                    Report(new FuzzFinding(mode.Name, s, FuzzFinding.HostExceptionKind, Describe(e)));
                }

                var elapsed = Stopwatch.GetElapsedTime(started);
                bool flagged;
                lock (gate)
                {
                    flagged = running[w].Flagged;
                    running[w] = running[w] with { StartedAt = -1 };
                }

                if (!flagged && elapsed > HangBound)
                    Report(new FuzzFinding(mode.Name, s, FuzzFinding.HangKind, $"ran {elapsed.TotalSeconds:0.0} s (bound {HangBound.TotalSeconds:0.#} s)"));
                Interlocked.Increment(ref done);
            }
        }

        var threads = new List<Thread>();
        void StartWorker()
        {
            int w = running.Count;
            running.Add((-1, 0, false));
            var t = new Thread(() => Work(w)) { IsBackground = true, Name = $"fuzz {mode.Name} {w}" };
            threads.Add(t);
            t.Start();
        }

        lock (gate)
        {
            for (int w = 0; w < workers; w++)
                StartWorker();
        }

        long peakHeap = 0;
        while (true)
        {
            peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
            int alive, stuck = 0;
            lock (gate)
            {
                alive = threads.Count(t => t.IsAlive);
                for (int w = 0; w < running.Count; w++)
                {
                    if (running[w].StartedAt < 0)
                        continue;
                    var ran = TimeSpan.FromTicks((sw.ElapsedTicks - running[w].StartedAt) * TimeSpan.TicksPerSecond / Stopwatch.Frequency);
                    if (ran <= HangBound)
                        continue;
                    stuck++;
                    if (!running[w].Flagged)
                    {
                        // A hung worker is left behind; a new one takes its place.
                        running[w] = running[w] with { Flagged = true };
                        findings.Add(new FuzzFinding(mode.Name, running[w].Seed, FuzzFinding.HangKind, $"still running after {HangBound.TotalSeconds:0.#} s"));
                        found?.Invoke(findings[^1]);
                        StartWorker();
                        alive++;
                    }
                }
            }

            // Done when every worker has ended, or the only ones left are hung: they are left behind.
            if (alive == stuck)
                break;
            Thread.Sleep(20);
        }

        using var self = Process.GetCurrentProcess();
        self.Refresh();
        lock (gate)
        {
            return new FuzzModeReport(mode.Name, Interlocked.Read(ref done), [.. findings], sw.Elapsed, self.PeakWorkingSet64, peakHeap)
            {
                Outcomes = new Dictionary<string, long>(outcomes),
            };
        }
    }

    /// <summary>Type, message and the innermost frame of our own code, so the report says where.</summary>
    private static string Describe(Exception e)
    {
        string? frame = new StackTrace(e, fNeedFileInfo: false).GetFrames()
            .Select(f => f.GetMethod())
            .Where(m => m?.DeclaringType?.Namespace?.StartsWith("Xtf.", StringComparison.Ordinal) == true)
            .Select(m => $"{m!.DeclaringType!.FullName}.{m.Name}")
            .FirstOrDefault();
        return $"{e.GetType().Name}: {e.Message}" + (frame is null ? "" : $" (at {frame})");
    }
}
