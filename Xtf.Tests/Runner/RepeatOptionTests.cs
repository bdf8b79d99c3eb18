using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>--repeat N</c>: the selection runs N times; a row shows the worst result over the rounds and,
/// when they disagree, how many rounds gave each result; the worst result sets the exit code.
/// </summary>
[TestFixture]
public sealed class RepeatOptionTests
{
    private static string Row(string id, string result) => id.PadRight(40) + " " + result;

    [Test]
    public void EveryRoundRunsTheWholeSelectionAndPrintsItsLogs()
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "hvm32-example", "pv64-example", "--repeat", "3", "-j", "1");
        string log(string id) => string.Join("\n", FakeTestEngine.SuccessLog(RunnerHarness.Catalog.AllInstances().Single(i => i.Id == id))) + "\n\n";
        string round = log("test-hvm32-example") + log("test-pv64-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(engine.Runs.Select(r => r.Instance.Id), Is.EqualTo(Enumerable.Repeat(new[] { "test-hvm32-example", "test-pv64-example" }, 3).SelectMany(x => x)));
            Assert.That(
                run.Stdout,
                Is.EqualTo(round + round + round + "Combined test results:\n" + Row("test-hvm32-example", "SUCCESS") + "\n" + Row("test-pv64-example", "SUCCESS") + "\n"),
                "rounds that agree give upstream's plain rows");
        });
    }

    [Test]
    public void AFlakyInstanceShowsItsWorstResultAndTheCountsAndSetsTheExitCode()
    {
        var engine = new FakeTestEngine()
            .Results("test-hvm32-example", "SUCCESS", "FAILURE", "SUCCESS", "SKIP", "SUCCESS")
            .Results("test-pv64-example", "SKIP");
        var run = RunnerHarness.Run(engine, "-q", "hvm32-example", "pv64-example", "--repeat", "5", "-j", "1");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(5));
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                "Combined test results:",
                Row("test-hvm32-example", "FAILURE (rounds: 3 SUCCESS, 1 SKIP, 1 FAILURE)"),
                Row("test-pv64-example", "SKIP"),
            }));
        });
    }

    [Test]
    public void DoubleQuietDropsOnlyInstancesThatPassedEveryRound()
    {
        var engine = new FakeTestEngine().Results("test-hvm32-example", "SUCCESS", "ERROR");
        var run = RunnerHarness.Run(engine, "-qq", "hvm32-example", "pv64-example", "--repeat", "2", "-j", "1");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(4));
            Assert.That(run.StdoutLines, Is.EqualTo(new[] { "Combined test results:", Row("test-hvm32-example", "ERROR (rounds: 1 SUCCESS, 1 ERROR)") }));
        });
    }

    [Test]
    public void LogsKeepEveryRoundInItsOwnDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"xtf-repeat-{Guid.NewGuid():N}");
        try
        {
            var engine = new FakeTestEngine().Results("test-hvm32-example", "SUCCESS", "FAILURE");
            var run = RunnerHarness.Run(engine, "-q", "hvm32-example", "--repeat", "2", "--logs", dir);
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(5));
                Assert.That(Directory.GetDirectories(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal), Is.EqualTo(new[] { "round-1", "round-2" }));
                Assert.That(File.ReadAllText(Path.Combine(dir, "round-1", "test-hvm32-example.log")), Does.EndWith("Test result: SUCCESS"));
                Assert.That(File.ReadAllText(Path.Combine(dir, "round-2", "test-hvm32-example.log")), Does.EndWith("Test result: FAILURE"));
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void RepeatOneIsAPlainRun()
    {
        var engine = new FakeTestEngine().Result("test-hvm32-example", "FAILURE");
        Assert.That(RunnerHarness.Run(engine, "hvm32-example", "--repeat", "1").Stdout, Is.EqualTo(RunnerHarness.Run(engine, "hvm32-example").Stdout));
        Assert.That(engine.Runs, Has.Count.EqualTo(2));
    }

    [TestCase("0")]
    [TestCase("-2")]
    [TestCase("many")]
    public void BadRepeatCountsAreOneErrorLine(string value)
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "example", "--repeat", value);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { $"Error: --repeat must be a positive whole number, not '{value}'" }));
            Assert.That(run.Stdout, Is.Empty);
            Assert.That(engine.Runs, Is.Empty);
        });
    }
}
