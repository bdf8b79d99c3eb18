using Xtf.Core.Testing;
using Xtf.Runner;
using Xtf.Tests.Runner.Fixtures;

namespace Xtf.Tests.Runner;

/// <summary>Runs <see cref="RunnerApp"/> in-process over the fixture catalog and captures what it printed.</summary>
internal static class RunnerHarness
{
    public static TestCatalog Catalog { get; } = TestCatalog.FromTypes(
        typeof(ExampleFixture),
        typeof(SelftestFixture),
        typeof(PvIoplFixture),
        typeof(Xsa106Fixture),
        typeof(InvlpgFixture),
        typeof(NestedVmxFixture),
        typeof(PvFsgsbaseFixture));

    public static RunnerRun Run(params string[] args) => Run(new FakeTestEngine(), args);

    public static RunnerRun Run(FakeTestEngine engine, params string[] args) => Run(Catalog, engine, interactive: false, args);

    /// <summary>As if stderr were a terminal: the runner draws its progress line there.</summary>
    public static RunnerRun RunInteractive(FakeTestEngine engine, params string[] args) => Run(Catalog, engine, interactive: true, args);

    public static RunnerRun Run(TestCatalog catalog, ITestEngine engine, bool interactive, params string[] args)
    {
        using var stdout = new StringWriter { NewLine = "\n" };
        using var stderr = new StringWriter { NewLine = "\n" };
        int exit = new RunnerApp(catalog, engine, stdout, stderr, interactive).Run(args);
        return new RunnerRun(exit, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>What one runner invocation printed and returned.</summary>
internal sealed record RunnerRun(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Lines(Stdout);

    public string[] StderrLines => Lines(Stderr);

    private static string[] Lines(string text) =>
        text.Length == 0 ? [] : text.TrimEnd('\n').Split('\n');
}
