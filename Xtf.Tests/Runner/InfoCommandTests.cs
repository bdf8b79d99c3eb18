using System.Text.Json;
using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary><c>xtf-runner info NAME</c>: XTF's info.json for one test (with or without <c>test-</c>), bad input one error line.</summary>
[TestFixture]
public sealed class InfoCommandTests
{
    [TestCase("pv-iopl")]
    [TestCase("test-pv-iopl")]
    public void PrintsTheTestsInfoJson(string name)
    {
        var run = RunnerHarness.Run("info", name);
        using var doc = JsonDocument.Parse(run.Stdout);
        var root = doc.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(0));
            Assert.That(root.GetProperty("name").GetString(), Is.EqualTo("pv-iopl"));
            Assert.That(root.GetProperty("category").GetString(), Is.EqualTo("functional"));
            Assert.That(root.GetProperty("environments").EnumerateArray().Select(e => e.GetString()).ToArray(), Is.EqualTo(new[] { "pv32pae", "pv64" }));
            Assert.That(root.GetProperty("variations").GetArrayLength(), Is.Zero);
            Assert.That(root.GetProperty("title").GetString(), Is.EqualTo("PV IOPL"));
        });
    }

    [Test]
    public void ListsVariationsAndEnvironmentsInOrder()
    {
        using var doc = JsonDocument.Parse(RunnerHarness.Run("info", "invlpg").Stdout);
        Assert.Multiple(() =>
        {
            Assert.That(doc.RootElement.GetProperty("variations").EnumerateArray().Select(e => e.GetString()).ToArray(), Is.EqualTo(new[] { "shadow", "hap" }));
            Assert.That(doc.RootElement.GetProperty("environments").EnumerateArray().Select(e => e.GetString()).ToArray(), Is.EqualTo(new[] { "hvm32", "hvm64" }));
        });
    }

    [TestCase(new[] { "info", "bogus" }, "Error: Unrecognised test 'bogus'")]
    [TestCase(new[] { "info" }, "Error: usage: xtf-runner info [--xtf-dir DIR] NAME")]
    [TestCase(new[] { "info", "example", "selftest" }, "Error: usage: xtf-runner info [--xtf-dir DIR] NAME")]
    [TestCase(new[] { "info", "--bogus" }, "Error: usage: xtf-runner info [--xtf-dir DIR] NAME")]
    [TestCase(new[] { "info", "--xtf-dir" }, "Error: usage: xtf-runner info [--xtf-dir DIR] NAME")]
    [TestCase(new[] { "info", "--xtf-dir=", "example" }, "Error: usage: xtf-runner info [--xtf-dir DIR] NAME")]
    public void BadInputIsOneErrorLine(string[] args, string error)
    {
        var run = RunnerHarness.Run(args);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { error }));
            Assert.That(run.Stdout, Is.Empty);
        });
    }
}
