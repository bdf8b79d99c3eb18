using NUnit.Framework;
using Xtf.Core.Testing;

namespace Xtf.Tests.Matrix;

/// <summary>
/// The instance matrix: one NUnit case per instance (named by its id, in its category), booted on
/// the hypervisors and under the quirks that <c>xtf.runsettings</c> <c>TestRunParameters</c> ask
/// for (<see cref="MatrixParameters"/>), its result decided from its console log alone as
/// xtf-runner does. With no parameters: every instance with hvm_fep, and the default selection
/// without it, each expected to pass. A failing case carries its console log as an attachment.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class CatalogInstanceTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.Example.Example).Assembly]);

    private static readonly Lazy<MatrixPlan> Plan = new(() => MatrixPlan.Build(Catalog, RunParameters(), RepositoryRoot.Find() ?? Environment.CurrentDirectory));

    /// <summary>The instance cases the run's <c>TestRunParameters</c> select (read at discovery).</summary>
    public static IEnumerable<TestCaseData> Instances() => InstanceCases(Plan.Value);

    /// <summary>One case per bad <c>TestRunParameters</c> value, named after the parameter; none when all are good.</summary>
    public static IEnumerable<TestCaseData> BadParameters() => BadParameterCases(Plan.Value);

    /// <summary>The NUnit cases of a plan: named by instance id (<c>... without FEP</c> for hvm_fep off), categorised by the test's category.</summary>
    internal static IEnumerable<TestCaseData> InstanceCases(MatrixPlan plan) =>
        plan.Cases.Select(c => new TestCaseData(c, plan.Parameters).SetName(c.Name).SetCategory(Categories.Name(c.Instance.Test.Category)));

    /// <summary>The failing case of a plan with a bad parameter: <c>TestRunParameters.&lt;name&gt;</c>.</summary>
    internal static IEnumerable<TestCaseData> BadParameterCases(MatrixPlan plan) =>
        plan.Error is { } e ? [new TestCaseData(e.Message).SetName(MatrixPlan.BadParameterPrefix + e.Parameter)] : [];

    /// <summary>NUnit's view of the runsettings <c>TestRunParameters</c> (command-line overrides included).</summary>
    internal static Dictionary<string, string> RunParameters() =>
        TestContext.Parameters.Names.ToDictionary(n => n, n => TestContext.Parameters[n] ?? "", StringComparer.Ordinal);

    [TestCaseSource(nameof(BadParameters))]
    public void TestRunParameter(string reason) => Assert.Fail($"Error: {reason}");

    [TestCaseSource(nameof(Instances))]
    public void Instance(MatrixCase c, MatrixParameters p)
    {
        var settings = new RunSettings { InstructionBudget = p.Budget, Timeout = p.Timeout, Watchdog = p.Watchdog, Fep = c.Fep, Quirks = c.Quirks };
        var outcome = new TestEngine().Run(c.Instance, settings);
        if (p.LogsDirectory is { } logs)
            WriteLog(Path.Combine(logs, c.LogPath), outcome.ConsoleLog);
        try
        {
            Check(c, outcome);
        }
        catch (Exception)
        {
            string path = p.LogsDirectory is { } dir
                ? Path.Combine(dir, c.LogPath)
                : WriteLog(Path.Combine(TestContext.CurrentContext.WorkDirectory, "xtf-logs", c.LogPath), outcome.ConsoleLog);
            TestContext.AddTestAttachment(path, $"console log of {c.Name}");
            throw;
        }
    }

    private static void Check(MatrixCase c, InstanceOutcome outcome)
    {
        string ended = $"{c.Instance.Id} ended {outcome.Result} ({outcome.Diagnostic}); console:\n{outcome.ConsoleLog}"
            + (outcome.HostException is { } trace ? $"\nhost exception:\n{trace}" : "");
        if (!c.Fep && outcome.Result == TestResult.Skip)
        {
            // Xen without hvm_fep (a production build): a test needing the emulator SKIPs with
            // XTF's message, after any part it can run natively.
            Assert.That(outcome.ConsoleLog, Does.Contain("FEP support not detected - some tests will be skipped\r\n")
                .Or.Contain("FEP unavailable, but needed by test. (Is Xen support\r\n"), ended);
        }
        else
        {
            Assert.That(outcome.Result, Is.EqualTo(c.Expected),
                c.Listed is not null ? $"the expectations file lists {c.Expected}. {ended}"
                : c.Expected == TestResult.Failure ? $"it guards one of the run's quirks, so it must report FAILURE. {ended}"
                : ended);
        }

        // DESIGN.md section 5: every message goes to each console channel (debug port and
        // console_io, and the PV console ring), with CRLF line ends from the guest. A message
        // printed from user mode goes only where user mode may write: the debug port (with IOPL 3)
        // and console_io (with the hypercall iopl), not the kernel's ring page; so the ring carries
        // the debug port's lines with those left out, in the same order.
        Assert.That(outcome.HypervisorConsole, Is.EqualTo(outcome.ConsoleLog), "console_io and the debug port disagree");
        Assert.That(IsOrderedSubsequence(Lines(outcome.PvConsole), Lines(outcome.ConsoleLog)), Is.True,
            $"the PV console ring has lines the debug port does not, or in another order:\n{outcome.PvConsole}");
        Assert.That(Lines(outcome.PvConsole).LastOrDefault(), Is.EqualTo(Lines(outcome.ConsoleLog).LastOrDefault()), "the ring lacks the result line");
        Assert.That(outcome.ConsoleLog.Replace("\r\n", "", StringComparison.Ordinal), Does.Not.Contain("\n"), "a line does not end in CRLF");
    }

    /// <summary>The console log, byte for byte as the guest wrote it (as <c>xtf-runner --logs</c> writes it); returns the path.</summary>
    private static string WriteLog(string path, string log)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, log, System.Text.Encoding.Latin1);
        return path;
    }

    private static string[] Lines(string log) => log.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

    private static bool IsOrderedSubsequence(string[] part, string[] whole)
    {
        int j = 0;
        foreach (string line in part)
        {
            while (j < whole.Length && whole[j] != line)
                j++;
            if (j++ == whole.Length)
                return false;
        }

        return true;
    }

    [Test]
    public void CatalogHasTheWalkingSkeletonTests()
    {
        var ids = Catalog.AllInstances().Select(i => i.Id).ToList();
        Assert.That(ids, Does.Contain("test-hvm32-example").And.Contain("test-hvm32-selftest"));
    }
}
