using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary><c>xtf-runner bench</c>: every workload runs to its instruction count and is reported with the decode rate.</summary>
[TestFixture]
public sealed class BenchCommandTests
{
    [Test]
    public void BenchReportsEveryWorkloadAndTheDecodeRate()
    {
        var run = RunnerHarness.Run("bench", "--instructions", "20000");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stdout);
            Assert.That(run.StdoutLines[0], Does.StartWith("iced-decode"));
            foreach (var name in new[] { "alu", "memory", "int-iret", "call-gate" })
                Assert.That(run.StdoutLines, Has.Some.Match($"^{name} +[0-9.]+ MIPS  ratio to decode [0-9.]+$"), name);
        });
    }

    [Test]
    public void BenchRunsOnlyTheNamedWorkloads()
    {
        var run = RunnerHarness.Run("bench", "alu", "--instructions", "20000");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stdout);
            Assert.That(run.StdoutLines, Has.Length.EqualTo(2));
            Assert.That(run.StdoutLines[1], Does.StartWith("alu "));
        });
    }

    [TestCase("nosuch")]
    [TestCase("--instructions", "0")]
    [TestCase("--instructions", "x")]
    [TestCase("--bogus")]
    public void BadBenchArgumentsAreOneErrorLine(params string[] args)
    {
        var run = RunnerHarness.Run(["bench", .. args]);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1).And.All.StartWith("Error: "));
        });
    }
}
