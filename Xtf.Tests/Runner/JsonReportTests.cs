using System.Text.Json;
using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary><c>--json FILE</c>: one object per instance with its result, crash reason and log; the worst result and its exit code on top.</summary>
[TestFixture]
public sealed class JsonReportTests
{
    [Test]
    public void ReportHoldsEveryInstanceAndTheWorstResult()
    {
        string path = Path.Combine(Path.GetTempPath(), $"xtf-json-{Guid.NewGuid():N}.json");
        try
        {
            var engine = new FakeTestEngine()
                .Result("test-hvm32-example", "SKIP")
                .Crash("test-hvm64-example", "instruction budget of 5 exhausted");
            var run = RunnerHarness.Run(engine, "hvm32-example", "hvm64-example", "pv32pae-example", "-q", "--json", path);
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            var byId = root.GetProperty("instances").EnumerateArray().ToDictionary(e => e.GetProperty("id").GetString()!);
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(6));
                Assert.That(root.GetProperty("result").GetString(), Is.EqualTo("CRASH"));
                Assert.That(root.GetProperty("exit_code").GetInt32(), Is.EqualTo(6));
                Assert.That(byId.Keys, Is.EquivalentTo(new[] { "test-hvm32-example", "test-hvm64-example", "test-pv32pae-example" }));
                Assert.That(byId["test-hvm32-example"].GetProperty("result").GetString(), Is.EqualTo("SKIP"));
                Assert.That(byId["test-hvm64-example"].GetProperty("diagnostic").GetString(), Is.EqualTo("instruction budget of 5 exhausted"));
                Assert.That(byId["test-pv32pae-example"].GetProperty("environment").GetString(), Is.EqualTo("pv32pae"));
                Assert.That(byId["test-pv32pae-example"].GetProperty("log").GetString(), Does.EndWith("Test result: SUCCESS"));
                Assert.That(byId["test-pv32pae-example"].GetProperty("variation").ValueKind, Is.EqualTo(JsonValueKind.Null));
            });
        }
        finally
        {
            File.Delete(path);
        }
    }
}
