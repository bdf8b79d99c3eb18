using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary><c>-j N</c> / <c>--jobs N</c>: instances run N at a time; stdout is that of a serial run.</summary>
[TestFixture]
public sealed class JobsOptionTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    /// <summary>The first instance in selection order finishes last, so completion order is not selection order.</summary>
    private static FakeTestEngine SlowFirst() => new FakeTestEngine()
        .Delay("test-hvm32-example", TimeSpan.FromMilliseconds(300))
        .Result("test-hvm32pae-example", "FAILURE")
        .Crash("test-pv64-example", "triple fault", "--- Xen Test Framework ---");

    [Test]
    public void StdoutIsTheSameWithAnyNumberOfJobs()
    {
        var serial = RunnerHarness.Run(SlowFirst(), "example", "-j", "1");
        Assert.That(serial.ExitCode, Is.EqualTo(6));
        foreach (string[] jobs in new[] { new[] { "-j", "2" }, new[] { "--jobs", "4" }, new[] { "-j", "64" }, [] })
        {
            var parallel = RunnerHarness.Run(SlowFirst(), ["example", .. jobs]);
            Assert.Multiple(() =>
            {
                Assert.That(parallel.Stdout, Is.EqualTo(serial.Stdout), string.Join(' ', jobs));
                Assert.That(parallel.ExitCode, Is.EqualTo(serial.ExitCode));
                Assert.That(parallel.Stderr, Is.Empty);
            });
        }
    }

    [TestCase("1", 1)]
    [TestCase("2", 2)]
    [TestCase("3", 3)]
    public void JobsRunThatManyInstancesAtOnce(string jobs, int expected)
    {
        // Three instances that each wait for three to be in flight: only -j 3 lets them meet.
        var engine = new FakeTestEngine().Rendezvous(3, expected == 3 ? Limit : TimeSpan.FromMilliseconds(200));
        var run = RunnerHarness.Run(engine, "-q", "pv-iopl", "hvm64-selftest", "-j", jobs);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(engine.MaxConcurrent, Is.EqualTo(expected));
        });
    }

    [Test]
    public void TheDefaultIsTheProcessorCount()
    {
        int cores = Environment.ProcessorCount;
        Assume.That(cores, Is.InRange(2, 6), "needs a selection of at least that many instances");
        var engine = new FakeTestEngine().Rendezvous(cores, Limit);
        RunnerHarness.Run(engine, "-q", "example");
        Assert.That(engine.MaxConcurrent, Is.EqualTo(cores));
    }

    [TestCase("0")]
    [TestCase("-1")]
    [TestCase("x")]
    [TestCase("1.5")]
    [TestCase("")]
    public void BadJobCountsAreOneErrorLine(string value)
    {
        foreach (string option in new[] { "-j", "--jobs" })
        {
            var engine = new FakeTestEngine();
            var run = RunnerHarness.Run(engine, "example", option, value);
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(1));
                Assert.That(run.StderrLines, Is.EqualTo(new[] { $"Error: -j/--jobs must be a positive whole number, not '{value}'" }));
                Assert.That(run.Stdout, Is.Empty);
                Assert.That(engine.Runs, Is.Empty);
            });
        }
    }

    [Test]
    public void AMissingJobCountIsOneErrorLine()
    {
        var run = RunnerHarness.Run("example", "-j");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.StderrLines[0], Does.StartWith("Error: ").And.Contain("-j"));
        });
    }
}
