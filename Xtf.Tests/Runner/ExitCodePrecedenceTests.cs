using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// Exit-code precedence: SUCCESS 0 &lt; SKIP 3 &lt; ERROR 4 &lt; FAILURE 5 &lt; CRASH 6 (xtf-runner,
/// worst wins); with <c>--expect</c>, the worst result that differs from its expectation, and 2 for
/// a run whose only differences are unexpected passes; a runner error, 1, beats everything.
/// </summary>
[TestFixture]
public sealed class ExitCodePrecedenceTests
{
    private static readonly string[] Results = ["SUCCESS", "SKIP", "ERROR", "FAILURE", "CRASH"];
    private static readonly int[] Codes = [0, 3, 4, 5, 6];

    private static FakeTestEngine Script(FakeTestEngine engine, string id, string result) =>
        result == "CRASH" ? engine.Crash(id, "triple fault", "--- Xen Test Framework ---") : engine.Result(id, result);

    [Test]
    public void EveryPairOfResultsGivesTheWorseCode()
    {
        for (int a = 0; a < Results.Length; a++)
        {
            for (int b = 0; b < Results.Length; b++)
            {
                var engine = new FakeTestEngine();
                Script(engine, "test-hvm32-example", Results[a]);
                Script(engine, "test-hvm64-example", Results[b]);
                var run = RunnerHarness.Run(engine, "-qq", "hvm32-example", "hvm64-example");
                Assert.That(run.ExitCode, Is.EqualTo(Math.Max(Codes[a], Codes[b])), $"{Results[a]} and {Results[b]}");
            }
        }
    }

    [Test]
    public void WithExpectationsOnlyMismatchesCountAndAnUnexpectedPassIsTwo()
    {
        string path = Path.GetTempFileName();
        try
        {
            // hvm32 expects FAILURE; hvm64 expects SUCCESS (unlisted).
            File.WriteAllText(path, "test-hvm32-example FAILURE\n");
            for (int a = 0; a < Results.Length; a++)
            {
                for (int b = 0; b < Results.Length; b++)
                {
                    var engine = new FakeTestEngine();
                    Script(engine, "test-hvm32-example", Results[a]);
                    Script(engine, "test-hvm64-example", Results[b]);
                    var run = RunnerHarness.Run(engine, "-qq", "--expect", path, "hvm32-example", "hvm64-example");
                    int first = Results[a] == "FAILURE" ? 0 : Results[a] == "SUCCESS" ? 2 : Codes[a];
                    Assert.That(run.ExitCode, Is.EqualTo(Math.Max(first, Codes[b])), $"{Results[a]} (expected FAILURE) and {Results[b]}");
                }
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ARunnerErrorDuringTheRunBeatsAnyResult()
    {
        string dir = Directory.CreateTempSubdirectory("xtf-precedence-").FullName;
        string logs = Path.Combine(dir, "logs");
        try
        {
            // The first instance fails; before the second runs, its log directory becomes a file.
            var engine = new FakeTestEngine().Crash("test-hvm32-example", "triple fault", "boot");
            engine.OnRun = instance =>
            {
                if (instance.Id == "test-hvm64-example")
                {
                    Directory.Delete(logs, recursive: true);
                    File.WriteAllText(logs, "");
                }
            };
            var run = RunnerHarness.Run(engine, "-q", "-j", "1", "hvm32-example", "hvm64-example", "--logs", logs);
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(1));
                Assert.That(run.StderrLines, Has.Length.EqualTo(1));
                Assert.That(run.StderrLines[0], Does.StartWith("Error: --logs: cannot write"));
                Assert.That(run.Stdout, Does.Not.Contain("Combined test results:"));
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
