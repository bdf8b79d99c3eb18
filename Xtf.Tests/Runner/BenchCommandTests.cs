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
    [TestCase("bench")]
    [TestCase("--matrix", "alu")]
    [TestCase("--matrix", "--instructions", "5")]
    [TestCase("--matrix", "-j", "0")]
    [TestCase("--matrix", "--runs", "x")]
    [TestCase("-j", "2")]
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

    [Test]
    public void MatrixBenchTimesTheDefaultMatrixSeriallyAndInParallel()
    {
        // The fixture catalog's default categories (functional, xsa) hold the selftest, pv-iopl,
        // xsa-106 and invlpg fixtures; the fake engine passes every instance.
        int expected = RunnerHarness.Run("--all", "--list").StdoutLines.Length;
        var run = RunnerHarness.Run("bench", "--matrix", "-j", "2", "--runs", "1");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stdout + run.Stderr);
            Assert.That(run.StdoutLines[0], Does.StartWith($"matrix: {expected} instances"));
            Assert.That(run.StdoutLines, Has.Some.Match(@"^serial \(-j 1\) +[0-9.]+ s +[0-9.]+ instances/s$"));
            Assert.That(run.StdoutLines, Has.Some.Match(@"^parallel \(-j 2\) +[0-9.]+ s +[0-9.]+ instances/s$"));
            Assert.That(run.StdoutLines, Has.Some.StartWith("boot-to-result per instance (serial pass): median "));
        });
    }

    [Test]
    public void MatrixBenchOfABrokenMatrixSaysWhichInstanceFailed()
    {
        var engine = new FakeTestEngine().Result("test-hvm64-selftest", "FAILURE");
        var run = RunnerHarness.Run(engine, "bench", "--matrix", "--runs", "1");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StdoutLines, Has.Some.EqualTo("not SUCCESS: test-hvm64-selftest FAILURE"));
        });
    }
}
