using System.Text;
using NUnit.Framework;
using Xtf.Runner;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>-m/--results-mode console|logfile</c>, <c>--logfile-dir</c>, <c>--logfile-pattern</c>
/// (upstream's run_test_logfile: print <c>Using logfile '&lt;path&gt;'</c>, read the guest's log file
/// from where it ended before the run up to the line holding <c>Test result:</c>, decide from that line).
/// </summary>
[TestFixture]
public sealed class ResultsModeTests
{
    private string dir = "";

    private static string Row(string id, string result) => id.PadRight(40) + " " + result;

    [SetUp]
    public void MakeDirectory() => dir = Directory.CreateTempSubdirectory("xtf-logfile-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(dir, recursive: true);

    [Test]
    public void LogfileModeWritesEachConsoleLogToItsFileAndReadsItBack([Values("-m", "--results-mode")] string option)
    {
        var engine = new FakeTestEngine().Log("test-hvm32-example", "--- Xen Test Framework ---", "caf\u00e9", "Test result: FAILURE");
        var run = RunnerHarness.Run(engine, "hvm32-example", option, "logfile", "--logfile-dir", dir);
        string path = Path.Combine(dir, "guest-test-hvm32-example.log");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(5));
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                $"Using logfile '{path}'",
                "--- Xen Test Framework ---",
                "caf\u00e9",
                "Test result: FAILURE",
                "",
                "Combined test results:",
                Row("test-hvm32-example", "FAILURE"),
            }));
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(Encoding.Latin1.GetBytes("--- Xen Test Framework ---\ncaf\u00e9\nTest result: FAILURE")));
        });
    }

    [Test]
    public void ThePatternNamesTheFileWithTheInstanceIdForEachPercentS()
    {
        var run = RunnerHarness.Run(new FakeTestEngine(), "-q", "pv64-example", "-m", "logfile", "--logfile-dir", dir, "--logfile-pattern", "%s/console-%s.txt");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1), "upstream joins the pattern to the directory; a subdirectory it names must exist");
            Assert.That(run.StderrLines[0], Does.StartWith("Error: --logfile-dir: cannot write"));
        });

        run = RunnerHarness.Run(new FakeTestEngine(), "-q", "pv64-example", "-m", "logfile", "--logfile-dir", dir, "--logfile-pattern", "console-%s.%s.txt");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(File.Exists(Path.Combine(dir, "console-test-pv64-example.test-pv64-example.txt")));
        });
    }

    [Test]
    public void TheResultIsTheLineWithTestResultNotTheLastLine()
    {
        var engine = new FakeTestEngine().Log("test-hvm32-example", "--- Xen Test Framework ---", "Test result: SKIP", "late noise");
        var console = RunnerHarness.Run(engine, "-q", "hvm32-example");
        var logfile = RunnerHarness.Run(engine, "hvm32-example", "-m", "logfile", "--logfile-dir", dir);
        Assert.Multiple(() =>
        {
            Assert.That(console.ExitCode, Is.EqualTo(6), "console mode: the last line decides");
            Assert.That(logfile.ExitCode, Is.EqualTo(3), "logfile mode: reading stops at the result line");
            Assert.That(logfile.StdoutLines, Does.Not.Contain("late noise"));
            Assert.That(logfile.StdoutLines[^1], Is.EqualTo(Row("test-hvm32-example", "SKIP")));
        });
    }

    [Test]
    public void WhatTheFileHeldBeforeTheRunIsNotRead()
    {
        string path = Path.Combine(dir, "guest-test-hvm32-example.log");
        File.WriteAllText(path, "old boot\nTest result: FAILURE\n");
        var engine = new FakeTestEngine().Log("test-hvm32-example", "--- Xen Test Framework ---", "Test result: SUCCESS");
        var run = RunnerHarness.Run(engine, "hvm32-example", "-m", "logfile", "--logfile-dir", dir);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.StdoutLines[1..3], Is.EqualTo(new[] { "--- Xen Test Framework ---", "Test result: SUCCESS" }));
            Assert.That(File.ReadAllText(path), Is.EqualTo("old boot\nTest result: FAILURE\n--- Xen Test Framework ---\nTest result: SUCCESS"), "appended, as xenconsoled does");
        });
    }

    [Test]
    public void NoResultLineInTheFileIsACrash()
    {
        var engine = new FakeTestEngine().Crash("test-hvm32-example", "triple fault", "--- Xen Test Framework ---");
        var run = RunnerHarness.Run(engine, "hvm32-example", "-m", "logfile", "--logfile-dir", dir);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(6));
            Assert.That(run.StdoutLines[1..4], Is.EqualTo(new[] { "--- Xen Test Framework ---", "triple fault", "" }));
        });
    }

    [Test]
    public void QuietLeavesOutTheUsingLogfileLine()
    {
        var run = RunnerHarness.Run(new FakeTestEngine(), "-q", "hvm32-example", "-m", "logfile", "--logfile-dir", dir);
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { "Combined test results:", Row("test-hvm32-example", "SUCCESS") }));
    }

    [Test]
    public void ConsoleModeIsTheDefaultAndIgnoresTheLogfileOptions()
    {
        var engine = new FakeTestEngine().Result("test-hvm32-example", "ERROR");
        var plain = RunnerHarness.Run(engine, "hvm32-example");
        var console = RunnerHarness.Run(engine, "hvm32-example", "-m", "console", "--logfile-dir", Path.Combine(dir, "unused"), "--logfile-pattern", "x");
        Assert.Multiple(() =>
        {
            Assert.That(console.Stdout, Is.EqualTo(plain.Stdout));
            Assert.That(console.ExitCode, Is.EqualTo(4));
            Assert.That(Directory.Exists(Path.Combine(dir, "unused")), Is.False);
        });
    }

    [Test]
    public void JobsDoNotChangeLogfileOutput()
    {
        var engine = new FakeTestEngine().Delay("test-hvm32-example", TimeSpan.FromMilliseconds(200)).Result("test-hvm64-example", "FAILURE");
        var serial = RunnerHarness.Run(engine, "example", "-m", "logfile", "--logfile-dir", Path.Combine(dir, "a"), "-j", "1");
        var parallel = RunnerHarness.Run(engine, "example", "-m", "logfile", "--logfile-dir", Path.Combine(dir, "b"), "-j", "3");
        Assert.That(parallel.Stdout.Replace(Path.Combine(dir, "b"), "DIR", StringComparison.Ordinal), Is.EqualTo(serial.Stdout.Replace(Path.Combine(dir, "a"), "DIR", StringComparison.Ordinal)));
    }

    [TestCase(new[] { "-m", "bogus" }, "Error: -m/--results-mode must be 'console' or 'logfile', not 'bogus'")]
    [TestCase(new[] { "--results-mode", "Logfile" }, "Error: -m/--results-mode must be 'console' or 'logfile', not 'Logfile'")]
    [TestCase(new[] { "-m", "logfile", "--logfile-pattern", "guest.log" }, "Error: --logfile-pattern must contain %s (the instance id), not 'guest.log'")]
    public void BadModeOrPatternIsOneErrorLine(string[] args, string error)
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, ["hvm32-example", "--logfile-dir", dir, .. args]);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { error }));
            Assert.That(run.Stdout, Is.Empty);
            Assert.That(engine.Runs, Is.Empty);
        });
    }

    [Test]
    public void ADirectoryThatCannotBeUsedIsOneErrorLine()
    {
        string file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "");
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "hvm32-example", "-m", "logfile", "--logfile-dir", Path.Combine(file, "sub"));
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.StderrLines[0], Does.StartWith("Error: --logfile-dir: cannot create"));
            Assert.That(engine.Runs, Is.Empty);
        });
    }

    [Test]
    public void TheDefaultDirectoryIsPerUser()
    {
        Assert.Multiple(() =>
        {
            Assert.That(LogfileMode.DefaultDirectory(_ => null, "/home/u"), Is.EqualTo("/home/u/.local/state/xtf/console"));
            Assert.That(LogfileMode.DefaultDirectory(v => v == "XDG_STATE_HOME" ? "/state" : null, "/home/u"), Is.EqualTo("/state/xtf/console"));
            Assert.That(LogfileMode.DefaultDirectory(v => v == "XDG_STATE_HOME" ? "relative" : null, "/home/u"), Is.EqualTo("/home/u/.local/state/xtf/console"), "XDG: a relative path is invalid and ignored");
        });
    }
}
