using System.CommandLine;
using System.Globalization;
using Xtf.Core.Testing.Fuzzing;

namespace Xtf.Runner;

/// <summary>
/// <c>xtf-runner fuzz [--seed S] [--count N] [--from I] [--mode M...]</c>: runs N seeded iterations of each
/// mode (<see cref="FuzzModes"/>) and prints per mode the iterations, host exceptions, hangs,
/// wall time and peak memory, and for every finding its reproducer line. Exit code 0 when nothing
/// was found, <see cref="FindingsExitCode"/> when something was, 1 for bad input.
/// </summary>
internal sealed class FuzzCommand
{
    public const string Name = "fuzz";

    /// <summary>Exit code when at least one host exception or hang was found.</summary>
    public const int FindingsExitCode = 2;

    public const long DefaultCount = 1000;

    /// <summary>Default memory bound: the issue's "peak RSS under 1 GB" for a whole campaign.</summary>
    public const long DefaultRssLimitMib = 1024;

    private readonly Option<string> seed = new("--seed") { Description = "Base seed: iteration 0 runs it, each next one a SplitMix64 step of it (default: a random seed, printed)", HelpName = "S" };
    private readonly Option<string> count = new("--count") { Description = $"Iterations per mode (default {DefaultCount})", HelpName = "N" };
    private readonly Option<string> from = new("--from") { Description = "First iteration to run (default 0): --from I --count N runs iterations I to I+N-1 of the campaign from --seed, so slices on several machines add up to one long run", HelpName = "I" };
    private readonly Option<string[]> modes = new("--mode") { Description = "Modes to run (repeatable; default all): " + string.Join(", ", FuzzModes.All.Select(m => m.Name)), HelpName = "M", AllowMultipleArgumentsPerToken = true };
    private readonly Option<string> budget = new("--budget") { Description = $"Instructions per bare-CPU iteration, {FuzzModes.EngineBudgetFactor}x for an engine iteration (default {FuzzModes.DefaultBudget})", HelpName = "N" };
    private readonly Option<string> hang = new("--hang-seconds") { Description = "Host time after which an iteration is a hang (default 10)", HelpName = "S" };
    private readonly Option<string> rssLimit = new("--rss-limit-mib") { Description = $"Peak resident memory of the process beyond which a mode's report is a memory finding (default {DefaultRssLimitMib})", HelpName = "MiB" };
    private readonly Option<string> jobs = new("--jobs", "-j") { Description = "Worker threads (default: the processor count)", HelpName = "N" };

    private readonly TextWriter stdout;
    private readonly TextWriter stderr;

    public FuzzCommand(TextWriter stdout, TextWriter stderr)
    {
        this.stdout = stdout;
        this.stderr = stderr;
    }

    public int Run(IReadOnlyList<string> args)
    {
        var command = new Command(Name, "Fuzz the CPU and the hypervisor: random code and hypercalls from random states; reports host exceptions and hangs with a reproducer seed")
        {
            seed, count, from, modes, budget, hang, rssLimit, jobs, new System.CommandLine.Help.HelpOption(),
        };
        var parse = command.Parse([Name, .. args], new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
            return RunnerApp.WriteError(stderr, parse.Errors[0].Message);
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });

        ulong baseSeed = parse.GetValue(seed) is { } s ? Parse(s, "--seed", 0) : (ulong)Random.Shared.NextInt64();
        long n = (long)Parse(parse.GetValue(count), "--count", 1, DefaultCount);
        long first = (long)Parse(parse.GetValue(from), "--from", 0, 0);
        long perIteration = (long)Parse(parse.GetValue(budget), "--budget", 1, FuzzModes.DefaultBudget);
        double hangSeconds = Parse(parse.GetValue(hang), "--hang-seconds", 1, 10);
        long rssMib = (long)Parse(parse.GetValue(rssLimit), "--rss-limit-mib", 1, DefaultRssLimitMib);
        int workers = OptionValues.PositiveCount(parse.GetValue(jobs), "-j/--jobs", Environment.ProcessorCount);
        var selected = new List<FuzzMode>();
        foreach (string name in parse.GetValue(modes) ?? [])
        {
            var mode = FuzzModes.Find(name) ?? throw new RunnerException($"Unknown fuzz mode '{name}' (known: {string.Join(", ", FuzzModes.All.Select(m => m.Name))})");
            if (!selected.Contains(mode))
                selected.Add(mode);
        }

        if (selected.Count == 0)
            selected.AddRange(FuzzModes.All);
        return Run(new FuzzLoop { Budget = perIteration, HangBound = TimeSpan.FromSeconds(hangSeconds), Jobs = workers }, selected, baseSeed, n, first, rssMib);
    }

    /// <summary>Runs <paramref name="selected"/> and prints the report; the loop and modes are the caller's (tests inject their own).</summary>
    internal int Run(FuzzLoop loop, IReadOnlyList<FuzzMode> selected, ulong baseSeed, long n, long first = 0, long rssLimitMib = DefaultRssLimitMib)
    {
        string slice = first == 0 ? "" : $" (iterations {first} to {first + n - 1})";
        stdout.WriteLine($"fuzz: seed {baseSeed}, {n} iterations per mode{slice}, budget {loop.Budget}, -j {loop.Jobs}");
        ulong start = FuzzSeeds.At(baseSeed, first);
        int findings = 0;
        foreach (var mode in selected)
        {
            var report = loop.Run(mode, start, n, f =>
            {
                stdout.WriteLine($"FINDING {f.Mode} seed {f.Seed}: {f.Kind}: {RunnerApp.OneLine(f.Detail)}");
                stdout.WriteLine($"  reproduce: {f.Reproducer}");
            });
            findings += report.Findings.Count;
            if (report.PeakWorkingSet >> 20 > rssLimitMib)
            {
                // Memory growth: the process's peak so far, so a mode that grew is reported once it did.
                findings++;
                stdout.WriteLine($"FINDING {report.Mode}: memory: peak RSS {report.PeakWorkingSet >> 20} MiB, over the limit of {rssLimitMib} MiB");
            }

            stdout.WriteLine($"{report.Mode} outcomes: " + string.Join(", ", report.Outcomes.OrderByDescending(o => o.Value).ThenBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key} {o.Value}")));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{report.Mode}: {report.Iterations} iterations, {report.HostExceptions} host exceptions, {report.Hangs} hangs, {report.Wall.TotalSeconds:0.0} s, peak RSS {report.PeakWorkingSet >> 20} MiB, peak GC heap {report.PeakHeap >> 20} MiB"));
        }

        stdout.WriteLine(findings == 0 ? "no findings" : $"{findings} findings");
        return findings == 0 ? 0 : FindingsExitCode;
    }

    private static ulong Parse(string text, string option, ulong min)
    {
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) || v < min)
            throw new RunnerException($"{option} must be a whole number of at least {min}, not '{text}'");
        return v;
    }

    private static double Parse(string? text, string option, ulong min, double absent) =>
        text is null ? absent : Parse(text, option, min);
}
