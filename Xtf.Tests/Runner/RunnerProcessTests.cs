using System.Diagnostics;
using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// The built xtf-runner, run as a process through <c>dotnet</c>: bad input must still be exactly one
/// <c>Error: ...</c> line on stderr and exit code 1, whatever the real catalog holds.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RunnerProcessTests
{
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(60);

    [TestCase(new[] { "no-such-test" }, "Error: Unrecognised test 'no-such-test'")]
    [TestCase(new[] { "hvm32-no-such-test" }, "Error: Unrecognised test name 'no-such-test' for 'hvm32-no-such-test'")]
    [TestCase(new[] { "--no-such-option" }, "Error: Unrecognised option '--no-such-option'")]
    [TestCase(new[] { "--list", "no-such-env-xyz" }, "Error: Unrecognised test 'no-such-env-xyz'")]
    [TestCase(new[] { "--list", "in-development", "hvm32", "pv64", "pv32pae", "no-such-test" }, "Error: Unrecognised test 'no-such-test'")]
    [TestCase(new string[0], "Error: No tests to run")]
    public void BadInputIsOneErrorLineAndExitOne(string[] args, string error)
    {
        var (exit, stdout, stderr) = RunRunner(args);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(stderr.TrimEnd('\r', '\n').Split('\n'), Is.EqualTo(new[] { error }));
            Assert.That(stdout, Is.Empty);
        });
    }

    [TestCase("--budget", "many")]
    [TestCase("--timeout", "-3")]
    [TestCase("-j", "0")]
    [TestCase("--repeat", "x")]
    [TestCase("-m", "bogus")]
    public void BadOptionValueIsOneErrorLineAndExitOne(string option, string value)
    {
        var (exit, stdout, stderr) = RunRunner(option, value, "example");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(stderr.TrimEnd('\r', '\n').Split('\n'), Has.Length.EqualTo(1));
            Assert.That(stderr, Does.StartWith("Error: ").And.Contain(option));
            Assert.That(stdout, Is.Empty);
        });
    }

    [Test]
    public void RedirectedOutputHasNoProgressLine()
    {
        var (exit, stdout, stderr) = RunRunner("-q", "hvm64-selftest", "pv64-selftest", "-j", "2", "--host");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero);
            Assert.That(stdout, Is.EqualTo("Combined test results:\n" + "test-hvm64-selftest".PadRight(40) + " SUCCESS\n" + "test-pv64-selftest".PadRight(40) + " SUCCESS\n"));
            Assert.That(stderr, Is.Empty, "stderr is redirected: no progress line, no carriage return");
        });
    }

    [Test]
    public void EnvironmentsListsTheSixEnvironments()
    {
        var (exit, stdout, stderr) = RunRunner("--environments");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero);
            Assert.That(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "hvm32", "hvm32pae", "hvm32pse", "hvm64", "pv32pae", "pv64" }));
            Assert.That(stderr, Is.Empty);
        });
    }

    private static (int Exit, string Stdout, string Stderr) RunRunner(params string[] args)
    {
        var run = DotnetProcess.Run([RunnerDll(), .. args], ProcessLimit);
        return (run.ExitCode, run.Stdout, run.Stderr);
    }

    /// <summary>
    /// xtf-runner.dll: copied next to this assembly by the project reference, or else in the runner
    /// project's own output for the same configuration.
    /// </summary>
    internal static string RunnerDll()
    {
        string here = Path.GetDirectoryName(typeof(RunnerProcessTests).Assembly.Location)!;
        string beside = Path.Combine(here, "xtf-runner.dll");
        if (File.Exists(beside) && File.Exists(Path.Combine(here, "xtf-runner.runtimeconfig.json")))
            return beside;

        // here = <repo>/Xtf.Tests/bin/<Configuration>/<tfm>
        var tfm = new DirectoryInfo(here);
        var configuration = tfm.Parent!;
        var repo = configuration.Parent!.Parent!.Parent!;
        string project = Path.Combine(repo.FullName, "Xtf.Runner", "bin", configuration.Name, tfm.Name, "xtf-runner.dll");
        if (File.Exists(project))
            return project;
        Assert.Fail($"xtf-runner.dll not found beside the tests ({beside}) nor at {project}");
        return project;
    }
}
