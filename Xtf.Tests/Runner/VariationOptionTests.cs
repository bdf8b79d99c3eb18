using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>--variation V</c>: the grammar's <c>~V</c> suffix applied to the whole selection (fixture:
/// invlpg has ~shadow and ~hap in hvm32 and hvm64; no other test has variations).
/// </summary>
[TestFixture]
public sealed class VariationOptionTests
{
    private static string[] List(params string[] args)
    {
        var run = RunnerHarness.Run(["--list", .. args]);
        Assert.That(run.Stderr, Is.Empty);
        return run.StdoutLines;
    }

    [Test]
    public void ItIsTheTildeSuffixForTheWholeSelection()
    {
        Assert.Multiple(() =>
        {
            Assert.That(List("invlpg", "--variation", "hap"), Is.EqualTo(List("invlpg~hap")));
            Assert.That(List("invlpg", "--variation", "hap"), Is.EqualTo(new[] { "test-hvm32-invlpg~hap", "test-hvm64-invlpg~hap" }));
            Assert.That(List("hvm64-invlpg", "--variation", "shadow"), Is.EqualTo(new[] { "test-hvm64-invlpg~shadow" }));
        });
    }

    [Test]
    public void InstancesWithoutAVariationAreNotOfIt()
    {
        Assert.That(List("-a", "--variation", "shadow"), Is.EqualTo(new[] { "test-hvm32-invlpg~shadow", "test-hvm64-invlpg~shadow" }));
    }

    [Test]
    public void RepeatedVariationsUnion()
    {
        Assert.That(List("hvm64", "--variation", "hap", "--variation", "shadow"), Is.EqualTo(new[] { "test-hvm64-invlpg~hap", "test-hvm64-invlpg~shadow" }));
    }

    [Test]
    public void ItIntersectsWithAVariationInTheSelection()
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "invlpg~hap", "--variation", "shadow");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { "Error: No tests to run" }));
            Assert.That(engine.Runs, Is.Empty);
        });
    }

    [Test]
    public void ItRestrictsARun()
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "-q", "invlpg", "--variation", "hap");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(engine.Runs.Select(r => r.Instance.Id), Is.EquivalentTo(new[] { "test-hvm32-invlpg~hap", "test-hvm64-invlpg~hap" }));
        });
    }

    [Test]
    public void AnUnknownVariationIsOneErrorLine()
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "invlpg", "--variation", "happ");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { "Error: Unknown variation 'happ' (known: hap, shadow)" }));
            Assert.That(run.Stdout, Is.Empty);
            Assert.That(engine.Runs, Is.Empty);
        });
    }
}
