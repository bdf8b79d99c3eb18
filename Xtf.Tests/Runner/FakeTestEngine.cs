using Xtf.Core.Testing;

namespace Xtf.Tests.Runner;

/// <summary>
/// An <see cref="ITestEngine"/> that answers from scripted console logs. The result is decided from
/// the log as the real engine decides it; an unscripted instance prints a passing example log.
/// </summary>
internal sealed class FakeTestEngine : ITestEngine
{
    private readonly Dictionary<string, (string[] Lines, string? Diagnostic)> scripts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Exception> throws = new(StringComparer.Ordinal);

    public List<(TestInstance Instance, RunSettings Settings)> Runs { get; } = [];

    public FakeTestEngine Log(string id, params string[] lines)
    {
        scripts[id] = (lines, null);
        return this;
    }

    public FakeTestEngine Result(string id, string result) =>
        Log(id, "--- Xen Test Framework ---", "Environment: fake", $"Test result: {result}");

    public FakeTestEngine Crash(string id, string diagnostic, params string[] lines)
    {
        scripts[id] = (lines, diagnostic);
        return this;
    }

    public FakeTestEngine Throw(string id, Exception exception)
    {
        throws[id] = exception;
        return this;
    }

    public static string[] SuccessLog(TestInstance instance) =>
        ["--- Xen Test Framework ---", $"Environment: {instance.Environment}", instance.Test.Title, "Test result: SUCCESS"];

    public InstanceOutcome Run(TestInstance instance, RunSettings settings)
    {
        Runs.Add((instance, settings));
        if (throws.TryGetValue(instance.Id, out var e))
            throw e;
        var (lines, diagnostic) = scripts.TryGetValue(instance.Id, out var s) ? s : (SuccessLog(instance), null);
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
}
