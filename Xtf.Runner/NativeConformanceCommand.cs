using System.Diagnostics;
using Xtf.Core.Testing.Conformance.Native;

namespace Xtf.Runner;

/// <summary>
/// <c>xtf-runner conformance --native [--count N] [--seed S] [--family F]</c>: the silicon oracle.
/// Runs N snippets of each family (or of F) on the host processor and on our CPU and prints one
/// line per family, every disagreement (up to <see cref="ShownFailures"/> unless verbose) with its
/// reproducer, and the total line. Exit code 0 when all agree, <see cref="ConformanceCommand.FailureExitCode"/>
/// when any snippet disagrees; on a host that cannot referee, one <c>SKIP: reason</c> line and exit 3
/// (xtf-runner's SKIP, DESIGN.md section 5).
/// </summary>
internal sealed class NativeConformanceCommand(TextWriter stdout)
{
    /// <summary>Default snippets per family.</summary>
    public const int DefaultCount = 1000;

    /// <summary>Exit code when the host cannot run snippets (xtf-runner's SKIP).</summary>
    public const int SkipExitCode = 3;

    /// <summary>Disagreements printed without <c>--verbose</c>.</summary>
    public const int ShownFailures = 20;

    public int Run(int count, int seed, string? familyName, bool verbose)
    {
        if (count < 1)
            throw new RunnerException($"--count must be at least 1, not {count}");
        IReadOnlyList<OracleFamily> families = OracleFamilies.All;
        if (familyName is not null)
        {
            families = OracleFamilies.Find(familyName) is { } f ? [f]
                : throw new RunnerException($"Unknown family '{familyName}' (families: {string.Join(", ", OracleFamilies.All.Select(x => x.Name))})");
        }

        using var host = HostProcessor.TryCreate(out string? reason);
        if (host is null)
        {
            stdout.WriteLine($"SKIP: {reason}");
            return SkipExitCode;
        }

        var oracle = new NativeOracle(host);
        var clock = Stopwatch.StartNew();
        int passed = 0, masked = 0;
        var maskCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<OracleDisagreement>();
        foreach (var family in families)
        {
            var run = oracle.Run(family, seed, count);
            stdout.WriteLine($"{family.Name}: {run.Passed} passed, {run.Failed} failed, {run.Masked} masked");
            passed += run.Passed;
            masked += run.Masked;
            foreach (var (name, n) in run.MaskCounts)
                maskCounts[name] = maskCounts.GetValueOrDefault(name) + n;
            failures.AddRange(run.Failures);
        }

        foreach (string skipped in OracleFamilies.Skipped)
            stdout.WriteLine($"skipped {skipped}");
        foreach (var failure in verbose ? failures : failures.Take(ShownFailures))
        {
            foreach (string line in failure.Describe())
                stdout.WriteLine(line);
        }

        if (!verbose && failures.Count > ShownFailures)
            stdout.WriteLine($"... {failures.Count - ShownFailures} more disagreements (--verbose lists them all)");
        foreach (var (name, why) in (ReadOnlySpan<(string, string)>)[NativeOracle.UndefinedFlags, NativeOracle.UndefinedRegister])
        {
            if (maskCounts.TryGetValue(name, out int n))
                stdout.WriteLine($"masked {n} by {name}: {why}");
        }

        stdout.WriteLine($"native oracle: seed {seed}, {clock.Elapsed.TotalSeconds:F1} s");
        stdout.WriteLine($"{passed} passed, {failures.Count} failed, {masked} masked");
        return failures.Count == 0 ? 0 : ConformanceCommand.FailureExitCode;
    }
}
