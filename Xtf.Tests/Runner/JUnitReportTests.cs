using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using NUnit.Framework;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>--junit FILE</c>: the report validates against the JUnit schema kept in this project
/// (Runner/junit.xsd, checked with XmlSchemaSet), holds one testcase per instance with the
/// result mapped as CI servers read it, and a path that cannot be written is one error line.
/// </summary>
[TestFixture]
public sealed class JUnitReportTests
{
    private static XmlSchemaSet Schema()
    {
        using var stream = typeof(JUnitReportTests).Assembly.GetManifestResourceStream("junit.xsd")!;
        var set = new XmlSchemaSet();
        set.Add(null, XmlReader.Create(stream));
        set.Compile();
        return set;
    }

    private static XDocument RunToReport(FakeTestEngine engine, out RunnerRun run, params string[] selection)
    {
        string path = Path.Combine(Path.GetTempPath(), $"xtf-junit-{Guid.NewGuid():N}.xml");
        try
        {
            run = RunnerHarness.Run(engine, [.. selection, "-q", "--junit", path]);
            var doc = XDocument.Load(path);
            doc.Validate(Schema(), (_, e) => throw new AssertionException($"schema: {e.Message}"));
            return doc;
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ReportValidatesAndMapsEveryResult()
    {
        var engine = new FakeTestEngine()
            .Result("test-hvm32-example", "FAILURE")
            .Result("test-hvm64-example", "SKIP")
            .Result("test-hvm32pae-example", "ERROR")
            .Crash("test-hvm32pse-example", "triple fault: the processor entered shutdown", "--- Xen Test Framework ---", "\u0001 bell");
        var doc = RunToReport(engine, out var run, "hvm32-example", "hvm64-example", "hvm32pae-example", "hvm32pse-example", "pv64-example");
        var cases = doc.Descendants("testcase").ToDictionary(c => (string)c.Attribute("name")!);
        var suite = doc.Root!.Element("testsuite")!;
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(6), "CRASH is the worst result");
            Assert.That(cases.Keys, Is.EquivalentTo(new[] { "test-hvm32-example", "test-hvm64-example", "test-hvm32pae-example", "test-hvm32pse-example", "test-pv64-example" }));
            Assert.That(cases["test-hvm32-example"].Element("failure")?.Attribute("type")?.Value, Is.EqualTo("FAILURE"));
            Assert.That(cases["test-hvm64-example"].Element("skipped"), Is.Not.Null);
            Assert.That(cases["test-hvm32pae-example"].Element("error")?.Attribute("type")?.Value, Is.EqualTo("ERROR"));
            Assert.That(cases["test-hvm32pse-example"].Element("error")?.Attribute("message")?.Value, Does.Contain("triple fault"));
            Assert.That(cases["test-pv64-example"].Elements().Select(e => e.Name.LocalName), Is.EqualTo(new[] { "system-out" }));
            Assert.That(cases["test-pv64-example"].Element("system-out")!.Value, Does.Contain("Test result: SUCCESS"));
            Assert.That(cases["test-hvm32-example"].Attribute("classname")?.Value, Is.EqualTo("utility.example"));
            Assert.That((int)suite.Attribute("tests")!, Is.EqualTo(5));
            Assert.That((int)suite.Attribute("failures")!, Is.EqualTo(1));
            Assert.That((int)suite.Attribute("errors")!, Is.EqualTo(2));
            Assert.That((int)suite.Attribute("skipped")!, Is.EqualTo(1));
        });
    }

    [Test]
    public void UnwritablePathIsOneErrorLineAndNothingRuns()
    {
        var engine = new FakeTestEngine();
        string path = Path.Combine(Path.GetTempPath(), $"xtf-missing-{Guid.NewGuid():N}", "report.xml");
        var run = RunnerHarness.Run(engine, "example", "--junit", path);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.StderrLines[0], Does.StartWith($"Error: --junit: cannot write '{path}'"));
            Assert.That(engine.Runs, Is.Empty);
        });
    }
}
