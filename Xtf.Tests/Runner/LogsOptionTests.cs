using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary><c>--logs DIR</c>: one file per instance, named by its id, holding its console log byte for byte.</summary>
[TestFixture]
public sealed class LogsOptionTests
{
    [Test]
    public void EachInstanceHasItsLogFile()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"xtf-logs-{Guid.NewGuid():N}", "nested");
        try
        {
            var engine = new FakeTestEngine().Log("test-hvm32-example", "--- Xen Test Framework ---", "caf\u00e9 \u0007", "Test result: FAILURE");
            var run = RunnerHarness.Run(engine, "hvm32-example", "pv64-example", "-q", "--logs", dir);
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(5));
                Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal),
                    Is.EqualTo(new[] { "test-hvm32-example.log", "test-pv64-example.log" }));
                Assert.That(File.ReadAllBytes(Path.Combine(dir, "test-hvm32-example.log")),
                    Is.EqualTo(System.Text.Encoding.Latin1.GetBytes("--- Xen Test Framework ---\ncaf\u00e9 \u0007\nTest result: FAILURE")));
                Assert.That(File.ReadAllText(Path.Combine(dir, "test-pv64-example.log")), Does.EndWith("Test result: SUCCESS"));
            });
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }

    [Test]
    public void ADirectoryThatCannotBeMadeIsOneErrorLine()
    {
        string file = Path.GetTempFileName();
        try
        {
            var engine = new FakeTestEngine();
            var run = RunnerHarness.Run(engine, "example", "--logs", Path.Combine(file, "sub"));
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(1));
                Assert.That(run.StderrLines, Has.Length.EqualTo(1));
                Assert.That(run.StderrLines[0], Does.StartWith("Error: --logs: cannot create"));
                Assert.That(engine.Runs, Is.Empty);
            });
        }
        finally
        {
            File.Delete(file);
        }
    }
}
