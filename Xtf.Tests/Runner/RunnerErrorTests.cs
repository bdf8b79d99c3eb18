using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>Anything the user typed wrong is one <c>Error: ...</c> line on stderr, nothing on stdout, exit 1.</summary>
[TestFixture]
public sealed class RunnerErrorTests
{
    [TestCase(new[] { "bogus" }, "Error: Unrecognised test 'bogus'")]
    [TestCase(new[] { "--list", "bogus" }, "Error: Unrecognised test 'bogus'")]
    [TestCase(new[] { "hvm32-bogus" }, "Error: Unrecognised test name 'bogus' for 'hvm32-bogus'")]
    [TestCase(new[] { "hvm33-example" }, "Error: Unrecognised test 'hvm33-example'")]
    [TestCase(new[] { "hvm33" }, "Error: Unrecognised test 'hvm33'")]
    [TestCase(new[] { "hvm32-pv-iopl" }, "Error: Test 'pv-iopl' has no environment 'hvm32'")]
    [TestCase(new[] { "example~hap" }, "Error: Test 'example' has no variations")]
    [TestCase(new[] { "invlpg~bogus" }, "Error: No variation 'bogus' for test 'invlpg'")]
    [TestCase(new[] { "example", "bogus", "selftest" }, "Error: Unrecognised test 'bogus'")]
    [TestCase(new string[0], "Error: No tests to run")]
    [TestCase(new[] { "-q" }, "Error: No tests to run")]
    [TestCase(new[] { "functional", "example" }, "Error: No tests to run")]
    [TestCase(new[] { "--list", "utility", "pv-iopl" }, "Error: No tests selected")]
    [TestCase(new[] { "--bogus" }, "Error: Unrecognised option '--bogus'")]
    [TestCase(new[] { "-x", "example" }, "Error: Unrecognised option '-x'")]
    public void UserErrorsAreOneStderrLineAndExitOne(string[] args, string error)
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, args);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { error }));
            Assert.That(run.Stdout, Is.Empty);
            Assert.That(engine.Runs, Is.Empty);
        });
    }

    [TestCase("--budget", "abc")]
    [TestCase("--budget", "0")]
    [TestCase("--budget", "-5")]
    [TestCase("--budget")]
    [TestCase("--timeout", "soon")]
    [TestCase("--timeout", "0")]
    [TestCase("--timeout", "-1")]
    [TestCase("--timeout", "NaN")]
    public void BadOptionValuesAreOneStderrLineAndExitOne(params string[] args)
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, [.. args, "hvm32-example"]);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.StderrLines[0], Does.StartWith("Error: ").And.Contain(args[0]));
            Assert.That(run.Stdout, Is.Empty);
            Assert.That(engine.Runs, Is.Empty);
        });
    }
}
