using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>--host</c>: upstream keeps the instances the host's capabilities allow (pv, pv32, hvm, and
/// hap or shadow for those variations). The emulated host has all of them, so nothing is dropped,
/// and upstream's habitual <c>./xtf-runner -aqq --host</c> runs unchanged.
/// </summary>
[TestFixture]
public sealed class HostOptionTests
{
    [Test]
    public void AllQuietQuietHostRunsTheDefaultMatrix()
    {
        var engine = new FakeTestEngine().Result("test-hvm64-xsa-106", "FAILURE");
        var host = RunnerHarness.Run(engine, "-aqq", "--host");
        Assert.Multiple(() =>
        {
            Assert.That(host.ExitCode, Is.EqualTo(5));
            Assert.That(host.Stderr, Is.Empty);
            Assert.That(host.StdoutLines, Is.EqualTo(new[] { "Combined test results:", "test-hvm64-xsa-106".PadRight(40) + " FAILURE" }));
            Assert.That(engine.Runs, Has.Count.EqualTo(RunnerHarness.Run("-l", "-a").StdoutLines.Length));
        });
    }

    [Test]
    public void EveryInstanceIncludingHapShadowAndPv32IsApplicable()
    {
        var withHost = RunnerHarness.Run("--list", "--all", "--non-default", "--host");
        Assert.Multiple(() =>
        {
            Assert.That(withHost.StdoutLines, Is.EqualTo(RunnerHarness.Run("--list", "--all", "--non-default").StdoutLines));
            Assert.That(withHost.StdoutLines, Does.Contain("test-hvm64-invlpg~hap").And.Contain("test-hvm32-invlpg~shadow").And.Contain("test-pv32pae-pv-iopl"));
        });
    }
}
