using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>--expect FILE</c> (the issue: tolerable or known failures; a mismatch is what fails the run,
/// an unexpected pass is reported). Exit code: 0 when every result is as expected, otherwise the
/// code of the worst result that differs from its expectation, 2 when every difference is a pass.
/// </summary>
[TestFixture]
public sealed class ExpectOptionTests
{
    private string dir = "";

    private static string Row(string id, string result) => id.PadRight(40) + " " + result;

    [SetUp]
    public void MakeDirectory() => dir = Directory.CreateTempSubdirectory("xtf-expect-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(dir, recursive: true);

    private string File(string text)
    {
        string path = Path.Combine(dir, $"{Guid.NewGuid():N}.expect");
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private RunnerRun Run(FakeTestEngine engine, string expect, params string[] args) =>
        RunnerHarness.Run(engine, ["-q", "--expect", File(expect), .. args]);

    [Test]
    public void AnExpectedFailureDoesNotFailTheRunAndIsMarked()
    {
        var engine = new FakeTestEngine().Result("test-hvm32-example", "FAILURE");
        var run = Run(engine, "test-hvm32-example FAILURE\n", "hvm32-example", "hvm64-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                "Combined test results:",
                Row("test-hvm32-example", "FAILURE (expected)"),
                Row("test-hvm64-example", "SUCCESS"),
            }));
            Assert.That(run.Stderr, Is.Empty);
        });
    }

    [TestCase("CRASH", "FAILURE", 5)]
    [TestCase("CRASH", "ERROR", 4)]
    [TestCase("FAILURE", "SKIP", 3)]
    [TestCase("FAILURE", "CRASH", 6)]
    [TestCase("SKIP", "ERROR", 4)]
    public void AMismatchFailsTheRunWithTheCodeOfTheResult(string expected, string got, int exitCode)
    {
        var engine = new FakeTestEngine();
        if (got == "CRASH")
            engine.Crash("test-hvm32-example", "triple fault", "--- Xen Test Framework ---");
        else
            engine.Result("test-hvm32-example", got);
        var run = Run(engine, $"test-hvm32-example {expected}\n", "hvm32-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(exitCode));
            Assert.That(run.StdoutLines[^1], Is.EqualTo(Row("test-hvm32-example", $"{got} (expected {expected})")));
        });
    }

    [Test]
    public void AnUnexpectedPassIsReportedAndExitsTwo()
    {
        var run = Run(new FakeTestEngine(), "test-hvm32-example FAILURE\n", "hvm32-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StdoutLines[^1], Is.EqualTo(Row("test-hvm32-example", "SUCCESS (unexpected pass, expected FAILURE)")));
        });
    }

    [Test]
    public void AnyOtherMismatchOutranksAnUnexpectedPass()
    {
        var engine = new FakeTestEngine().Result("test-hvm64-example", "SKIP");
        var run = Run(engine, "test-hvm32-example FAILURE\n", "hvm32-example", "hvm64-example");
        Assert.That(run.ExitCode, Is.EqualTo(3));
    }

    [Test]
    public void UnlistedInstancesExpectSuccess()
    {
        var engine = new FakeTestEngine().Result("test-hvm64-example", "FAILURE");
        var run = Run(engine, "test-hvm32-example FAILURE\n", "hvm32-example", "hvm64-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(5), "hvm64's FAILURE mismatches SUCCESS and outranks hvm32's unexpected pass");
            Assert.That(run.StdoutLines[^1], Is.EqualTo(Row("test-hvm64-example", "FAILURE")));
        });
    }

    [Test]
    public void CommentsBlankLinesAndCrLfAreFine()
    {
        var engine = new FakeTestEngine().Result("test-hvm32-example", "SKIP").Result("test-hvm64-example", "ERROR");
        string text = "# known on Xen 4.6\r\n\r\n   \r\ntest-hvm32-example\tSKIP   # no FEP there\r\n  test-hvm64-example ERROR\r\n# end";
        var run = Run(engine, text, "hvm32-example", "hvm64-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines[1..], Is.EqualTo(new[] { Row("test-hvm32-example", "SKIP (expected)"), Row("test-hvm64-example", "ERROR (expected)") }));
        });
    }

    [Test]
    public void AGlobCoversManyInstancesAndAnExactIdBeatsIt()
    {
        var engine = new FakeTestEngine()
            .Result("test-pv32pae-example", "SKIP")
            .Result("test-pv64-example", "FAILURE");
        var run = Run(engine, "test-pv64-example FAILURE\ntest-pv*-exam?le SKIP\n", "pv-iopl", "example", "pv");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                "Combined test results:",
                Row("test-pv32pae-example", "SKIP (expected)"),
                Row("test-pv64-example", "FAILURE (expected)"),
                Row("test-pv32pae-pv-iopl", "SUCCESS"),
                Row("test-pv64-pv-iopl", "SUCCESS"),
            }));
        });
    }

    [Test]
    public void OfSeveralGlobsTheLastMatchingLineWins()
    {
        var engine = new FakeTestEngine().Result("test-hvm32-example", "ERROR");
        var run = Run(engine, "test-* SKIP\ntest-hvm32-* ERROR\n", "hvm32-example");
        Assert.That(run.ExitCode, Is.Zero);
    }

    [Test]
    public void AnInstanceOutsideTheSelectionMayBeListed()
    {
        var run = Run(new FakeTestEngine(), "test-pv64-pv-fsgsbase CRASH\n", "hvm32-example");
        Assert.That(run.ExitCode, Is.Zero);
    }

    [Test]
    public void DoubleQuietKeepsExpectedFailuresAndUnexpectedPasses()
    {
        var engine = new FakeTestEngine().Result("test-hvm32-example", "FAILURE");
        var run = RunnerHarness.Run(engine, "-qq", "--expect", File("test-hvm32-example FAILURE\ntest-hvm64-example SKIP\n"), "example");
        Assert.That(run.StdoutLines, Is.EqualTo(new[]
        {
            "Combined test results:",
            Row("test-hvm32-example", "FAILURE (expected)"),
            Row("test-hvm64-example", "SUCCESS (unexpected pass, expected SKIP)"),
        }));
    }

    [Test]
    public void WithRepeatEveryRoundMustMeetTheExpectation()
    {
        var engine = new FakeTestEngine().Results("test-hvm32-example", "FAILURE", "SUCCESS", "FAILURE");
        var run = Run(engine, "test-hvm32-example FAILURE\n", "hvm32-example", "--repeat", "3");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StdoutLines[^1], Is.EqualTo(Row("test-hvm32-example", "FAILURE (unexpected pass, expected FAILURE; rounds: 1 SUCCESS, 2 FAILURE)")));
        });
    }

    [TestCase("test-hvm32-example\n", "line 1: expected '<instance id> <RESULT>', got 'test-hvm32-example'")]
    [TestCase("# c\ntest-hvm32-example FAILURE extra\n", "line 2: expected '<instance id> <RESULT>', got 'test-hvm32-example FAILURE extra'")]
    [TestCase("\n\ntest-hvm32-example failure\n", "line 3: unknown result 'failure' (known: SUCCESS, SKIP, ERROR, FAILURE, CRASH)")]
    [TestCase("test-hvm32-example WARNING\n", "line 1: unknown result 'WARNING' (known: SUCCESS, SKIP, ERROR, FAILURE, CRASH)")]
    [TestCase("test-hvm32-exmaple FAILURE\n", "line 1: unknown test instance 'test-hvm32-exmaple'")]
    [TestCase("hvm32-example FAILURE\n", "line 1: unknown test instance 'hvm32-example'")]
    [TestCase("test-hvm33-* SKIP\n", "line 1: 'test-hvm33-*' matches no test instance")]
    [TestCase("test-hvm32-example SKIP\ntest-hvm32-example FAILURE\n", "line 2: 'test-hvm32-example' is already expected SKIP at line 1")]
    public void ABadFileIsOneErrorLineNamingTheLine(string text, string message)
    {
        var engine = new FakeTestEngine();
        string path = File(text);
        var run = RunnerHarness.Run(engine, "--expect", path, "hvm32-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { $"Error: --expect: {path}: {message}" }));
            Assert.That(run.Stdout, Is.Empty);
            Assert.That(engine.Runs, Is.Empty);
        });
    }

    [Test]
    public void AnUnreadableFileIsOneErrorLine()
    {
        var engine = new FakeTestEngine();
        string missing = Path.Combine(dir, "missing.expect");
        foreach (string path in new[] { missing, dir })
        {
            var run = RunnerHarness.Run(engine, "--expect", path, "hvm32-example");
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(1));
                Assert.That(run.StderrLines, Has.Length.EqualTo(1));
                Assert.That(run.StderrLines[0], Does.StartWith($"Error: --expect: cannot read '{path}': "));
                Assert.That(engine.Runs, Is.Empty);
            });
        }
    }
}
