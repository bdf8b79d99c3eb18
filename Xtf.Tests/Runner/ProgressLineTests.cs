using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// The live progress line: on a terminal, <c>[done/total] &lt;id&gt; &lt;RESULT&gt;</c> redrawn
/// with <c>\r</c> on stderr and erased before the summary; redirected, nothing of it at all.
/// </summary>
[TestFixture]
public sealed class ProgressLineTests
{
    private static FakeTestEngine Engine() => new FakeTestEngine().Result("test-hvm64-example", "FAILURE");

    [Test]
    public void RedirectedOutputHasNoProgressAndNoCarriageReturn([Values("-q", "-qq", null)] string? quiet)
    {
        var run = RunnerHarness.Run(Engine(), quiet is null ? ["hvm32-example", "hvm64-example"] : [quiet, "hvm32-example", "hvm64-example"]);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(5));
            Assert.That(run.Stderr, Is.Empty);
            Assert.That(run.Stdout, Does.Not.Contain("\r"));
            Assert.That(run.Stdout, Does.Not.Contain("[1/2]"));
        });
    }

    [Test]
    public void OnATerminalTheLineIsRedrawnOnStderrAndErasedAtTheEnd()
    {
        var run = RunnerHarness.RunInteractive(Engine(), "-q", "-j", "1", "hvm32-example", "hvm64-example");
        string first = "[1/2] test-hvm32-example SUCCESS", second = "[2/2] test-hvm64-example FAILURE";
        string expected = "\r" + first + "\r" + second + "\r" + new string(' ', second.Length) + "\r";
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(5));
            Assert.That(run.Stderr, Is.EqualTo(expected));
            Assert.That(run.Stdout, Is.EqualTo(RunnerHarness.Run(Engine(), "-q", "hvm32-example", "hvm64-example").Stdout), "stdout is not touched");
        });
    }

    [Test]
    public void OnATerminalTheLineMakesWayForEachConsoleLog()
    {
        var run = RunnerHarness.RunInteractive(Engine(), "-j", "1", "hvm32-example", "hvm64-example");
        string first = "[1/2] test-hvm32-example SUCCESS", second = "[2/2] test-hvm64-example FAILURE";
        string erase(string line) => "\r" + new string(' ', line.Length) + "\r";
        Assert.Multiple(() =>
        {
            Assert.That(run.Stderr, Is.EqualTo("\r" + first + erase(first) + "\r" + first + "\r" + second + erase(second) + "\r" + second + erase(second)));
            Assert.That(run.Stdout, Is.EqualTo(RunnerHarness.Run(Engine(), "hvm32-example", "hvm64-example").Stdout));
            Assert.That(run.Stdout, Does.Not.Contain("\r"));
        });
    }

    [Test]
    public void WithRepeatTheTotalCountsEveryRound()
    {
        var run = RunnerHarness.RunInteractive(new FakeTestEngine(), "-q", "hvm32-example", "--repeat", "3");
        Assert.That(run.Stderr, Does.Contain("[1/3] test-hvm32-example SUCCESS").And.Contain("[3/3] test-hvm32-example SUCCESS"));
    }

    [Test]
    public void RunnerErrorsStayOneLineOnATerminal()
    {
        var run = RunnerHarness.RunInteractive(new FakeTestEngine(), "bogus");
        Assert.That(run.Stderr, Is.EqualTo("Error: Unrecognised test 'bogus'\n"));
    }
}
