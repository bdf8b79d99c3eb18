using Xtf.Core.Testing.Benchmarks;

namespace Xtf.Runner;

/// <summary>
/// <c>xtf-runner bench</c>: the CPU workloads' MIPS and, measured in the same process, Iced's raw
/// decode rate, with each workload's ratio to it. Figures only: nothing here passes or fails.
/// </summary>
internal static class BenchCommand
{
    public const string Name = "bench";

    public const long DefaultInstructions = 20_000_000;

    /// <summary>Runs per figure; the best one is reported.</summary>
    private const int Runs = 3;

    public static int Run(TextWriter stdout, long instructions, IReadOnlyList<string> workloads)
    {
        // Warm up every path until the tiered JIT has promoted the hot loops (call and loop
        // counts, then a background compile after a delay), so the figures measure steady state.
        for (int round = 0; round < 3; round++)
        {
            foreach (var name in workloads)
                _ = CpuBenchmarks.Run(name, 2_000_000);
            _ = CpuBenchmarks.RawDecodeRate(2_000_000);
            Thread.Sleep(150);
        }

        // Each figure is the best of a few runs: on a shared machine the slow runs measure the
        // neighbours. The yardstick gets the same treatment, so the ratio is not flattered.
        double decode = Enumerable.Range(0, Runs).Max(_ => CpuBenchmarks.RawDecodeRate(instructions));
        stdout.WriteLine($"{"iced-decode",-12} {decode / 1e6,8:0.0} M instructions/s (decode only)");
        int rc = 0;
        foreach (var name in workloads)
        {
            var r = Enumerable.Range(0, Runs).Select(_ => CpuBenchmarks.Run(name, instructions)).MaxBy(r => r.Problem is null ? r.Mips : -1)!;
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
}
