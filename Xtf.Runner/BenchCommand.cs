using System.CommandLine;
using Xtf.Core.Testing;
using Xtf.Core.Testing.Benchmarks;

namespace Xtf.Runner;

/// <summary>
/// <c>xtf-runner bench</c>: the CPU workloads' MIPS and, measured in the same process, Iced's raw
/// decode rate, with each workload's ratio to it; or, with <c>--matrix</c>, the default matrix's
/// instances per second, serially and with worker threads, and each instance's boot-to-result
/// time. Figures only: nothing here passes or fails, except a matrix instance that does not
/// succeed (exit code 1, since its time measures a broken run).
/// </summary>
internal sealed class BenchCommand
{
    public const string Name = "bench";

    public const long DefaultInstructions = 20_000_000;

    /// <summary>Runs per figure; the best one is reported.</summary>
    private const int Runs = 3;

    private readonly Argument<string[]> workloads = new("WORKLOAD")
    {
        Description = "Workloads to run (default: all of " + string.Join(", ", CpuBenchmarks.Names) + ")",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private readonly Option<long> instructions = new("--instructions")
    {
        Description = "Instructions per workload",
        DefaultValueFactory = _ => DefaultInstructions,
        HelpName = "N",
    };

    private readonly Option<bool> matrix = new("--matrix")
    {
        Description = "Time the default matrix instead (every instance of the default categories): serially and with -j workers",
    };

    private readonly Option<string> jobs = new("--jobs", "-j")
    {
        Description = "Worker threads of the parallel matrix pass (default: the processor count)",
        HelpName = "N",
    };

    private readonly Option<string> runs = new("--runs")
    {
        Description = $"Timed passes of the matrix per figure, the fastest reported (default {Runs})",
        HelpName = "N",
    };

    private readonly TestCatalog catalog;
    private readonly ITestEngine engine;
    private readonly TextWriter stdout;
    private readonly TextWriter stderr;

    public BenchCommand(TestCatalog catalog, ITestEngine engine, TextWriter stdout, TextWriter stderr)
    {
        this.catalog = catalog;
        this.engine = engine;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    public int Run(IReadOnlyList<string> args)
    {
        var command = new Command(Name, "Measure the CPU (MIPS of guest workloads and their ratio to Iced's raw decode rate) or, with --matrix, the default matrix (use a Release build)")
        {
            workloads,
            instructions,
            matrix,
            jobs,
            runs,
            new System.CommandLine.Help.HelpOption(),
        };
        var parse = command.Parse([Name, .. args], new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
            return RunnerApp.WriteError(stderr, parse.Errors[0].Message);
        if (parse.Action is not null)
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });

        var names = parse.GetValue(workloads) ?? [];
        if (names.FirstOrDefault(t => t.StartsWith('-')) is { } unknown)
            throw new RunnerException($"Unrecognised option '{unknown}'");

        if (parse.GetValue(matrix))
        {
            if (names.Length > 0 || parse.GetResult(instructions) is { Implicit: false })
                throw new RunnerException("--matrix times the test matrix: it takes no workloads or --instructions");
            return RunMatrix(
                OptionValues.PositiveCount(parse.GetValue(jobs), "-j/--jobs", Environment.ProcessorCount),
                OptionValues.PositiveCount(parse.GetValue(runs), "--runs", Runs));
        }

        if (parse.GetResult(jobs) is not null || parse.GetResult(runs) is not null)
            throw new RunnerException("-j/--jobs and --runs belong to --matrix");
        long n = parse.GetValue(instructions);
        if (n <= 0)
            throw new RunnerException($"--instructions must be a positive number, not {n}");
        if (names.Length == 0)
            names = [.. CpuBenchmarks.Names];
        if (names.FirstOrDefault(w => !CpuBenchmarks.Names.Contains(w)) is { } unknownWorkload)
            throw new RunnerException($"Unknown workload '{unknownWorkload}' (known: {string.Join(", ", CpuBenchmarks.Names)})");
        return RunWorkloads(n, names);
    }

    private int RunWorkloads(long count, IReadOnlyList<string> names)
    {
        // Warm up every path until the tiered JIT has promoted the hot loops (call and loop
        // counts, then a background compile after a delay), so the figures measure steady state.
        for (int round = 0; round < 3; round++)
        {
            foreach (var name in names)
                _ = CpuBenchmarks.Run(name, 2_000_000);
            _ = CpuBenchmarks.RawDecodeRate(2_000_000);
            Thread.Sleep(150);
        }

        // Each figure is the best of a few runs: on a shared machine the slow runs measure the
        // neighbours. The yardstick gets the same treatment, so the ratio is not flattered.
        double decode = Enumerable.Range(0, Runs).Max(_ => CpuBenchmarks.RawDecodeRate(count));
        stdout.WriteLine($"{"iced-decode",-12} {decode / 1e6,8:0.0} M instructions/s (decode only)");
        int rc = 0;
        foreach (var name in names)
        {
            var r = Enumerable.Range(0, Runs).Select(_ => CpuBenchmarks.Run(name, count)).MaxBy(r => r.Problem is null ? r.Mips : -1)!;
            if (r.Problem is { } problem)
            {
                stdout.WriteLine($"{name,-12} {"-",8} MIPS  ({problem})");
                rc = 1;
                continue;
            }

            stdout.WriteLine($"{name,-12} {r.Mips,8:0.0} MIPS  ratio to decode {r.Mips * 1e6 / decode:0.00}");
        }

        return rc;
    }

    private int RunMatrix(int workers, int passes)
    {
        var selection = Selection.Interpret(catalog, [], all: true);
        var settings = new RunSettings();
        stdout.WriteLine($"matrix: {selection.Count} instances (the default categories, as --all selects them), fastest of {passes} passes after a warm-up");
        var serial = MatrixBenchmark.Best(engine, selection, settings, jobs: 1, passes);
        Report("serial", serial);
        var parallel = MatrixBenchmark.Best(engine, selection, settings, workers, passes);
        Report("parallel", parallel);

        stdout.WriteLine($"boot-to-result per instance (serial pass): median {Ms(serial.Percentile(0.5))}, "
            + $"90th percentile {Ms(serial.Percentile(0.9))}, max {Ms(serial.Percentile(1))}");
        foreach (var slow in serial.Outcomes.OrderByDescending(o => o.Elapsed).Take(5))
            stdout.WriteLine($"  {slow.Instance.Id,-40} {Ms(slow.Elapsed),10}  {slow.Instructions,10} instructions");

        var broken = serial.NotSucceeded.Concat(parallel.NotSucceeded).Select(o => $"{o.Instance.Id} {TestResults.Name(o.Result)}").Distinct().ToList();
        foreach (var line in broken)
            stdout.WriteLine($"not SUCCESS: {line}");
        return broken.Count == 0 ? 0 : 1;
    }

    private void Report(string label, MatrixPass pass) =>
        stdout.WriteLine($"{label + $" (-j {pass.Jobs})",-16} {pass.Wall.TotalSeconds,7:0.00} s  {pass.InstancesPerSecond,7:0.0} instances/s");

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0.0} ms";
}
