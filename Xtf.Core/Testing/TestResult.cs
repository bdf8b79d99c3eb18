namespace Xtf.Core.Testing;

/// <summary>A test instance's result, in rising severity (xtf-runner's all_results order).</summary>
public enum TestResult
{
    /// <summary><c>Test result: SUCCESS</c> (or <c>SUCCESS with warnings</c>): the test reported only xtf_success; exit code 0.</summary>
    Success,

    /// <summary><c>Test result: SKIP</c> (xtf_skip, and nothing more severe): the test cannot run here, e.g. a feature absent; exit code 3.</summary>
    Skip,

    /// <summary><c>Test result: ERROR</c> (xtf_error, or no status reported by the time xtf_report_status ran): the test went wrong rather than the thing under test; exit code 4.</summary>
    Error,

    /// <summary><c>Test result: FAILURE</c> (xtf_failure): the behaviour under test is wrong; exit code 5.</summary>
    Failure,

    /// <summary>No valid result line ended the console log (panic, triple fault, budget or timeout exhausted, no output); exit code 6.</summary>
    Crash,
}

/// <summary>Names, exit codes and console-log interpretation of <see cref="TestResult"/>, as xtf-runner has them.</summary>
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

    /// <summary>The upper-case name as it appears in <c>Test result:</c> lines and xtf-runner's summary (<c>SUCCESS</c> ... <c>CRASH</c>).</summary>
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
