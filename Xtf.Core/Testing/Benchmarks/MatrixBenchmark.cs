using System.Diagnostics;

namespace Xtf.Core.Testing.Benchmarks;

/// <summary>
/// One pass of the matrix benchmark: a selection run with a number of worker threads, its wall
/// time, and what each instance took from machine creation to its result line.
/// </summary>
/// <param name="Jobs">Worker threads (<c>-j</c>).</param>
/// <param name="Wall">Wall time of the whole selection.</param>
/// <param name="Outcomes">Every instance's outcome, in selection order.</param>
public sealed record MatrixPass(int Jobs, TimeSpan Wall, IReadOnlyList<InstanceOutcome> Outcomes)
{
    /// <summary>Instances finished per second of wall time.</summary>
    public double InstancesPerSecond => Outcomes.Count / Wall.TotalSeconds;

    /// <summary>The boot-to-result time (the engine's elapsed time) below which <paramref name="fraction"/> of the instances lie.</summary>
    public TimeSpan Percentile(double fraction)
    {
        var sorted = Outcomes.Select(o => o.Elapsed).Order().ToList();
        if (sorted.Count == 0)
            return TimeSpan.Zero;
        int index = (int)Math.Ceiling(fraction * sorted.Count) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
    }

    /// <summary>The instances that did not end in SUCCESS: a benchmark of a broken matrix measures nothing.</summary>
    public IEnumerable<InstanceOutcome> NotSucceeded => Outcomes.Where(o => o.Result != TestResult.Success);
}

/// <summary>
/// <c>xtf-runner bench --matrix</c>: the default matrix (every instance of the default
/// categories, as <c>--all</c> selects it) run serially and with worker threads, each pass timed
/// from the first machine created to the last result decided.
/// </summary>
public static class MatrixBenchmark
{
    /// <summary>Runs <paramref name="selection"/> once with <paramref name="jobs"/> workers and times it.</summary>
    public static MatrixPass Run(ITestEngine engine, IReadOnlyList<TestInstance> selection, RunSettings settings, int jobs)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var clock = Stopwatch.StartNew();
        var outcomes = MatrixRun.Run(engine, selection, settings, jobs);
        return new MatrixPass(jobs, clock.Elapsed, outcomes);
    }

    /// <summary>
    /// The fastest of <paramref name="runs"/> passes (on a shared machine the slow passes measure
    /// the neighbours), after one untimed pass that brings every test's code through the JIT.
    /// </summary>
    public static MatrixPass Best(ITestEngine engine, IReadOnlyList<TestInstance> selection, RunSettings settings, int jobs, int runs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        _ = Run(engine, selection, settings, jobs);
        return Enumerable.Range(0, runs).Select(_ => Run(engine, selection, settings, jobs)).MinBy(p => p.Wall)!;
    }
}
