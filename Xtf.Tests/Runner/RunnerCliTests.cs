using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Runner;

/// <summary>The xtf-runner command in-process: listing, running, summary, quiet levels, exit codes.</summary>
[TestFixture]
public sealed class RunnerCliTests
{
    private static readonly string[] SortedEnvironments = ["hvm32", "hvm32pae", "hvm32pse", "hvm64", "pv32pae", "pv64"];

    private static string Row(string id, string result) => id.PadRight(40) + " " + result;

    [Test]
    public void ListPrintsOneInstancePerLine()
    {
        var run = RunnerHarness.Run("--list", "xsa");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines, Is.EqualTo(new[] { "test-hvm32-xsa-106", "test-hvm32pae-xsa-106", "test-hvm32pse-xsa-106", "test-hvm64-xsa-106" }));
            Assert.That(run.Stderr, Is.Empty);
        });
    }

    [Test]
    public void ListShortOptionAndOptionsAfterTheSelection()
    {
        Assert.That(RunnerHarness.Run("pv-iopl", "-l").StdoutLines, Is.EqualTo(new[] { "test-pv32pae-pv-iopl", "test-pv64-pv-iopl" }));
    }

    [Test]
    public void ListAllAndNonDefault()
    {
        Assert.That(RunnerHarness.Run("-l", "-a").StdoutLines, Has.Length.EqualTo(4 + 2 + 6 + 4));
        Assert.That(RunnerHarness.Run("-l", "--non-default").StdoutLines, Has.Length.EqualTo(6 + 1 + 1));
        Assert.That(RunnerHarness.Run("-l", "--all", "--non-default").StdoutLines, Has.Length.EqualTo(RunnerHarness.Catalog.AllInstances().Count()));
    }

    [Test]
    public void ListAloneListsEveryInstance()
    {
        var run = RunnerHarness.Run("--list");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines, Is.EquivalentTo(RunnerHarness.Catalog.AllInstances().Select(i => i.Id)));
        });
    }

    [Test]
    public void ListRunsNothing()
    {
        var engine = new FakeTestEngine();
        RunnerHarness.Run(engine, "--list", "example");
        Assert.That(engine.Runs, Is.Empty);
    }

    [Test]
    public void EnvironmentsPrintsTheSortedEnvironmentList([Values] bool withList)
    {
        var run = withList ? RunnerHarness.Run("--list", "--environments") : RunnerHarness.Run("--environments");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines, Is.EqualTo(SortedEnvironments));
            Assert.That(run.Stderr, Is.Empty);
        });
    }

    [Test]
    public void RunPrintsEachLogThenAnEmptyLineThenTheSummary()
    {
        var engine = new FakeTestEngine()
            .Log("test-hvm32-example", "--- Xen Test Framework ---", "Environment: HVM 32bit (No paging)", "Hello World", "Test result: SUCCESS")
            .Log("test-hvm64-example", "--- Xen Test Framework ---", "Environment: HVM 64bit (Long mode 4 levels)", "Hello World", "Test result: SUCCESS");
        var run = RunnerHarness.Run(engine, "example", "hvm64", "hvm32");
        string expected =
            "--- Xen Test Framework ---\n" +
            "Environment: HVM 32bit (No paging)\n" +
            "Hello World\n" +
            "Test result: SUCCESS\n" +
            "\n" +
            "--- Xen Test Framework ---\n" +
            "Environment: HVM 64bit (Long mode 4 levels)\n" +
            "Hello World\n" +
            "Test result: SUCCESS\n" +
            "\n" +
            "Combined test results:\n" +
            "test-hvm32-example                       SUCCESS\n" +
            "test-hvm64-example                       SUCCESS\n";
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.Stdout, Is.EqualTo(expected));
            Assert.That(run.Stderr, Is.Empty);
            Assert.That(engine.Runs.Select(r => r.Instance.Id), Is.EquivalentTo(new[] { "test-hvm32-example", "test-hvm64-example" }));
        });
    }

    [Test]
    public void SummaryRowsPadTheIdTo40ColumnsThenOneSpace()
    {
        var run = RunnerHarness.Run("-q", "hvm64-xsa-106");
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { "Combined test results:", Row("test-hvm64-xsa-106", "SUCCESS") }));
        Assert.That(run.StdoutLines[1].IndexOf("SUCCESS", StringComparison.Ordinal), Is.EqualTo(41));
    }

    [Test]
    public void SummaryRowsNeverTruncateLongIds()
    {
        string id = "test-hvm64-invlpg~shadow";
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "-q", "hvm64-invlpg~shadow");
        Assert.That(run.StdoutLines[1], Is.EqualTo(Row(id, "SUCCESS")));
    }

    [TestCase("Test result: SUCCESS", "SUCCESS", 0)]
    [TestCase("Test result: SUCCESS with warnings", "SUCCESS", 0)]
    [TestCase("Test result: SKIP", "SKIP", 3)]
    [TestCase("Test result: ERROR", "ERROR", 4)]
    [TestCase("Test result: FAILURE", "FAILURE", 5)]
    [TestCase("Test result: BOGUS", "CRASH", 6)]
    [TestCase("Hello World", "CRASH", 6)]
    public void ExitCodeIsTheResultsCode(string lastLine, string result, int exitCode)
    {
        var engine = new FakeTestEngine().Log("test-hvm32-selftest", "--- Xen Test Framework ---", lastLine);
        var run = RunnerHarness.Run(engine, "hvm32-selftest");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(exitCode));
            Assert.That(run.StdoutLines[^1], Is.EqualTo(Row("test-hvm32-selftest", result)));
        });
    }

    [Test]
    public void NoConsoleOutputIsACrash()
    {
        var engine = new FakeTestEngine().Log("test-hvm32-selftest");
        var run = RunnerHarness.Run(engine, "hvm32-selftest");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(6));
            Assert.That(run.StdoutLines[^1], Is.EqualTo(Row("test-hvm32-selftest", "CRASH")));
        });
    }

    [TestCase("SKIP", "ERROR", "SUCCESS", 4)]
    [TestCase("FAILURE", "SKIP", "ERROR", 5)]
    [TestCase("SUCCESS", "SKIP", "SUCCESS", 3)]
    [TestCase("SUCCESS", "SUCCESS", "SUCCESS", 0)]
    [TestCase("SUCCESS", "FAILURE", "CRASH", 6)]
    public void TheWorstResultWins(string first, string second, string third, int exitCode)
    {
        var engine = new FakeTestEngine();
        string[] ids = ["test-pv32pae-pv-iopl", "test-pv64-pv-iopl", "test-pv64-pv-fsgsbase"];
        string[] results = [first, second, third];
        for (int i = 0; i < ids.Length; i++)
        {
            if (results[i] == "CRASH")
                engine.Crash(ids[i], "triple fault");
            else
                engine.Result(ids[i], results[i]);
        }

        var run = RunnerHarness.Run(engine, "-q", "pv-iopl", "pv-fsgsbase");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(exitCode));
            Assert.That(
                run.StdoutLines,
                Is.EqualTo(new[] { "Combined test results:", Row(ids[2], third), Row(ids[0], first), Row(ids[1], second) }),
                "rows in selection order: pv-fsgsbase sorts before pv-iopl");
        });
    }

    [Test]
    public void QuietPrintsOnlyTheSummary([Values("-q", "--quiet")] string quiet)
    {
        var engine = new FakeTestEngine().Result("test-hvm32-example", "FAILURE");
        var run = RunnerHarness.Run(engine, quiet, "hvm32-example", "hvm64-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(5));
            Assert.That(
                run.StdoutLines,
                Is.EqualTo(new[] { "Combined test results:", Row("test-hvm32-example", "FAILURE"), Row("test-hvm64-example", "SUCCESS") }));
        });
    }

    [TestCase("-qq")]
    [TestCase("-q", "-q")]
    [TestCase("--quiet", "-q")]
    [TestCase("-qqq")]
    public void DoubleQuietAlsoDropsSuccessRows(params string[] quiet)
    {
        var engine = new FakeTestEngine().Result("test-hvm64-example", "SKIP");
        var run = RunnerHarness.Run(engine, [.. quiet, "hvm32-example", "hvm64-example"]);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(3));
            Assert.That(run.StdoutLines, Is.EqualTo(new[] { "Combined test results:", Row("test-hvm64-example", "SKIP") }));
        });
    }

    [Test]
    public void DoubleQuietKeepsTheHeaderWhenEverythingPassed()
    {
        var run = RunnerHarness.Run("-qq", "example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines, Is.EqualTo(new[] { "Combined test results:" }));
        });
    }

    [Test]
    public void ACrashPrintsItsDiagnosticAfterTheLog()
    {
        var engine = new FakeTestEngine().Crash("test-hvm32-selftest", "instruction budget exhausted after 100 instructions", "--- Xen Test Framework ---", "Environment: HVM 32bit (No paging)");
        var run = RunnerHarness.Run(engine, "hvm32-selftest");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(6));
            Assert.That(
                run.StdoutLines,
                Is.EqualTo(new[]
                {
                    "--- Xen Test Framework ---",
                    "Environment: HVM 32bit (No paging)",
                    "instruction budget exhausted after 100 instructions",
                    "",
                    "Combined test results:",
                    Row("test-hvm32-selftest", "CRASH"),
                }));
        });
    }

    [Test]
    public void QuietHidesTheCrashDiagnostic()
    {
        var engine = new FakeTestEngine().Crash("test-hvm32-selftest", "triple fault", "--- Xen Test Framework ---");
        var run = RunnerHarness.Run(engine, "-q", "hvm32-selftest");
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { "Combined test results:", Row("test-hvm32-selftest", "CRASH") }));
    }

    [Test]
    public void AHostExceptionFromTheEngineIsACrashAndTheRunGoesOn()
    {
        var engine = new FakeTestEngine().Throw("test-pv32pae-pv-iopl", new InvalidOperationException("boom"));
        var run = RunnerHarness.Run(engine, "pv-iopl");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(6));
            Assert.That(run.Stderr, Is.Empty);
            Assert.That(run.StdoutLines, Does.Contain("host exception: InvalidOperationException: boom"));
            Assert.That(run.StdoutLines[^2..], Is.EqualTo(new[] { Row("test-pv32pae-pv-iopl", "CRASH"), Row("test-pv64-pv-iopl", "SUCCESS") }));
        });
    }

    [Test]
    public void BudgetAndTimeoutReachTheEngine()
    {
        var engine = new FakeTestEngine();
        RunnerHarness.Run(engine, "--budget", "12345", "--timeout", "2.5", "hvm32-example");
        Assert.That(engine.Runs, Has.Count.EqualTo(1));
        Assert.Multiple(() =>
        {
            Assert.That(engine.Runs[0].Settings.InstructionBudget, Is.EqualTo(12345));
            Assert.That(engine.Runs[0].Settings.Timeout, Is.EqualTo(TimeSpan.FromSeconds(2.5)));
        });
    }

    [Test]
    public void WithoutBudgetOrTimeoutTheEngineGetsTheDefaults()
    {
        var engine = new FakeTestEngine();
        RunnerHarness.Run(engine, "hvm32-example");
        Assert.That(engine.Runs[0].Settings, Is.EqualTo(new RunSettings()));
    }

    [Test]
    public void FepAndQuirksReachTheEngine()
    {
        var engine = new FakeTestEngine();
        RunnerHarness.Run(engine, "hvm32-example", "--fep", "off", "--quirk", "xsa-106", "--quirk", "XSA-123");
        var settings = engine.Runs[0].Settings;
        Assert.That(settings.Fep, Is.False);
        Assert.That(settings.Quirks, Is.EquivalentTo(new[] { Quirk.Xsa106, Quirk.Xsa123 }));

        RunnerHarness.Run(engine, "hvm32-example", "--fep", "on");
        Assert.That(engine.Runs[1].Settings.Fep, Is.True);
    }

    [Test]
    public void MsrRelaxedReachesTheEngine()
    {
        var engine = new FakeTestEngine();
        RunnerHarness.Run(engine, "hvm32-example", "--msr-relaxed");
        Assert.That(engine.Runs[0].Settings.MsrRelaxed, Is.True);
        Assert.That(engine.Runs[0].Settings.Hypervisor.MsrRelaxed, Is.True);
        RunnerHarness.Run(engine, "hvm32-example");
        Assert.That(engine.Runs[1].Settings.MsrRelaxed, Is.False, "libxl's default is off");
    }

    [TestCase("--fep", "maybe", "--fep must be 'on' or 'off', not 'maybe'")]
    [TestCase("--quirk", "xsa-999", "Unknown quirk 'xsa-999'")]
    public void BadFepOrQuirkIsOneErrorLine(string option, string value, string message)
    {
        var run = RunnerHarness.Run("hvm32-example", option, value);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.Stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(run.Stderr, Does.StartWith("Error: " + message));
            Assert.That(run.Stdout, Is.Empty);
        });
    }

    [Test]
    public void HelpPrintsUsageAndSucceeds()
    {
        var run = RunnerHarness.Run("--help");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.Stdout, Does.Contain("--list").And.Contain("--environments").And.Contain("--budget").And.Contain("--timeout"));
            foreach (string option in new[] { "-j, --jobs", "--variation", "--repeat", "--expect", "--host", "-m, --results-mode", "--logfile-dir", "--logfile-pattern" })
                Assert.That(run.Stdout, Does.Contain(option));
            foreach (string command in new[] { "xtf-runner conformance", "xtf-runner bench", "xtf-runner new NAME", "xtf-runner info NAME" })
                Assert.That(run.Stdout, Does.Contain(command), "the subcommands are named in the usage");
            Assert.That(run.Stderr, Is.Empty);
        });
    }
}
