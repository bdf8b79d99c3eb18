using System.Diagnostics;
using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Testing.Reports;

namespace Xtf.Tests.Matrix;

/// <summary>
/// <c>.ci/merge-junit.py</c>, the nightly merge job: its own unittests pass, and merging the
/// runner's JUnit reports of two shards gives one report that still validates against the JUnit
/// schema kept in this project (Runner/junit.xsd). Needs python3, as <c>.ci/run</c> does; without
/// it the tests are ignored.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MergeJUnitScriptTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.Example.Example).Assembly]);

    private static string Repo => RepositoryRoot.Find() ?? throw new InvalidOperationException($"no xtf.runsettings above {AppContext.BaseDirectory}");

    [Test]
    public void TheScriptPassesItsUnitTests()
    {
        var (exit, stdout, stderr) = Python("-m", "unittest", "discover", "-s", ".ci", "-p", "test_*.py");
        Assert.That(exit, Is.Zero, stdout + stderr);
        Assert.That(stderr, Does.Match(@"Ran [1-9]\d* tests").And.Contain("OK"));
    }

    [Test]
    public void TwoShardsOfRunnerReportsMergeIntoOneValidReport()
    {
        string root = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"merge-{Guid.NewGuid():N}");
        try
        {
            // The xsa-106 quirk set: swint-emulation guards it, so its FAILURE is listed.
            var one = Outcome("test-hvm32-example", TestResult.Success);
            var two = Outcome("test-hvm64-swint-emulation", TestResult.Failure);
            WriteShard(root, "fep-on.xsa-106.shard-1-of-2", one);
            WriteShard(root, "fep-on.xsa-106.shard-2-of-2", two);
            File.WriteAllText(Path.Combine(root, "fep-on.xsa-106.shard-2-of-2", "expect.txt"), "test-hvm64-swint-emulation FAILURE\n");
            string merged = Path.Combine(root, "merged.xml");

            var (exit, stdout, stderr) = Python(".ci/merge-junit.py", "-o", merged, root);

            var doc = XDocument.Load(merged);
            doc.Validate(Schema(), (_, e) => throw new AssertionException($"schema: {e.Message}"));
            var cases = doc.Descendants("testcase").ToList();
            Assert.Multiple(() =>
            {
                Assert.That(exit, Is.Zero, stdout + stderr);
                Assert.That(cases.Select(c => (string?)c.Attribute("name")), Is.EquivalentTo(new[] { "test-hvm32-example", "test-hvm64-swint-emulation" }));
                Assert.That((string?)doc.Root!.Attribute("tests"), Is.EqualTo("2"));
                Assert.That((string?)doc.Root!.Attribute("failures"), Is.EqualTo("1"));
                Assert.That(doc.Descendants("testsuite").Select(s => (string?)s.Attribute("name")),
                    Is.EquivalentTo(new[] { "fep-on.xsa-106.shard-1-of-2", "fep-on.xsa-106.shard-2-of-2" }));
            });
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }

    private static InstanceOutcome Outcome(string id, TestResult result)
    {
        var instance = Catalog.AllInstances().Single(i => i.Id == id);
        string log = $"--- Xen Test Framework ---\r\nEnvironment: {GuestEnvironment.Name(instance.Environment)}\r\nTest result: {TestResults.Name(result)}\r\n";
        return new InstanceOutcome(instance, result, log, log.Split("\r\n", StringSplitOptions.RemoveEmptyEntries), null, 1000, TimeSpan.FromMilliseconds(5));
    }

    private static void WriteShard(string root, string job, params InstanceOutcome[] outcomes)
    {
        string dir = Path.Combine(root, job);
        Directory.CreateDirectory(dir);
        using var writer = new StreamWriter(Path.Combine(dir, "junit.xml"));
        JUnitReport.Write(writer, outcomes);
    }

    private static XmlSchemaSet Schema()
    {
        using var stream = typeof(MergeJUnitScriptTests).Assembly.GetManifestResourceStream("junit.xsd")!;
        var set = new XmlSchemaSet();
        set.Add(null, XmlReader.Create(stream));
        set.Compile();
        return set;
    }

    private static (int Exit, string Stdout, string Stderr) Python(params string[] args)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo,
        };
        foreach (string a in args)
            start.ArgumentList.Add(a);
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("could not start python3");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore("python3 is not installed (.ci/run and the nightly merge job need it)");
            throw;
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"python3 {string.Join(' ', args)} did not finish within 120 s");
            }

            process.WaitForExit();
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
    }
}
