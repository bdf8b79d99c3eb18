namespace Xtf.Core.Testing;

/// <summary>A test instance's result, in rising severity (xtf-runner's all_results order).</summary>
public enum TestResult
{
    Success,
    Skip,
    Error,
    Failure,
    Crash,
}

public static class TestResults
{
    /// <summary>xtf-runner's exit code for a result: 0, 3, 4, 5, 6.</summary>
    public static int ExitCode(TestResult r) => r switch
    {
        TestResult.Success => 0,
        TestResult.Skip => 3,
        TestResult.Error => 4,
        TestResult.Failure => 5,
        _ => 6,
    };

    public static string Name(TestResult r) => r.ToString().ToUpperInvariant();

    /// <summary>
    /// The result of a console log, as xtf-runner decides it: the last line must contain
    /// "Test result:"; the first of SUCCESS, SKIP, ERROR, FAILURE it names is the result.
    /// Anything else (no output, no result line, a result line not last) is CRASH.
    /// </summary>
    public static TestResult FromConsoleLog(IReadOnlyList<string> lines)
    {
        if (lines.Count == 0)
            return TestResult.Crash;
        string last = lines[^1];
        if (!last.Contains("Test result:", StringComparison.Ordinal))
            return TestResult.Crash;
        foreach (var r in new[] { TestResult.Success, TestResult.Skip, TestResult.Error, TestResult.Failure })
        {
            if (last.Contains(Name(r), StringComparison.Ordinal))
                return r;
        }

        return TestResult.Crash;
    }
}
