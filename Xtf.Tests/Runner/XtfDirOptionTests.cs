using NUnit.Framework;
using Xtf.Core.Testing;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>--xtf-dir DIR</c> (and <c>XTF_DIR</c>): the catalog is an upstream tree's
/// <c>tests/*/info.json</c>, read as upstream's xtf-runner reads them (its TestInfo checks, a
/// skipped bad file), selected and reported with upstream's instance ids; <c>--builtin</c> adds
/// ours, noting each row's origin. The engine is a fake: booting images is the toolstack's tests'.
/// </summary>
[TestFixture]
public sealed class XtfDirOptionTests
{
    private string root = "";

    [SetUp]
    public void MakeTree()
    {
        root = Path.Combine(Path.GetTempPath(), $"xtf-tree-{Guid.NewGuid():N}");
        Info("example", """{"name": "example", "category": "special", "environments": ["pv64", "hvm32"], "variations": []}""");
        Info("xsa-999", """{"name": "xsa-999", "category": "xsa", "environments": ["hvm64"], "variations": ["hap", "shadow"]}""");
        Info("bad-category", """{"name": "bad-category", "category": "nonsense", "environments": ["hvm64"], "variations": []}""");
        Info("renamed", """{"name": "other", "category": "xsa", "environments": ["hvm64"], "variations": []}""");
        Directory.CreateDirectory(Path.Combine(root, "tests", "no-info"));
    }

    [TearDown]
    public void RemoveTree() => Directory.Delete(root, recursive: true);

    private void Info(string dir, string json)
    {
        string d = Path.Combine(root, "tests", dir);
        Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(d, "info.json"), json);
    }

    private static RunnerRun Run(FakeTestEngine engine, Func<string, string?>? environment, params string[] args)
    {
        using var stdout = new StringWriter { NewLine = "\n" };
        using var stderr = new StringWriter { NewLine = "\n" };
        int exit = new Xtf.Runner.RunnerApp(RunnerHarness.Catalog, engine, stdout, stderr, environment: environment).Run(args);
        return new RunnerRun(exit, stdout.ToString(), stderr.ToString());
    }

    [TestCase(true, TestName = "info --xtf-dir DIR NAME prints the upstream test's info.json")]
    [TestCase(false, TestName = "info NAME with XTF_DIR set prints the upstream test's info.json")]
    public void InfoReadsTheTree(bool option)
    {
        Func<string, string?> environment = v => !option && v == "XTF_DIR" ? root : null;
        string[] args = option ? ["info", "--xtf-dir", root, "test-xsa-999"] : ["info", "xsa-999"];
        var run = Run(new FakeTestEngine(), environment, args);
        Assert.That(run.ExitCode, Is.Zero, run.Stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(run.Stdout);
        var info = doc.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(info.GetProperty("name").GetString(), Is.EqualTo("xsa-999"));
            Assert.That(info.GetProperty("category").GetString(), Is.EqualTo("xsa"));
            Assert.That(info.GetProperty("environments").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "hvm64" }));
            Assert.That(info.GetProperty("variations").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "hap", "shadow" }));
            Assert.That(info.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "name", "category", "environments", "variations" }), "mkinfo.py's keys only");
        });
    }

    [Test]
    public void InfoWithoutTheTreeDoesNotKnowUpstreamsTests()
    {
        var run = Run(new FakeTestEngine(), null, "info", "xsa-999");
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.StderrLines, Is.EqualTo(new[] { "Error: Unrecognised test 'xsa-999'" }));
    }

    [Test]
    public void ListsTheTreesInstancesInUpstreamOrder()
    {
        var run = Run(new FakeTestEngine(), null, "--xtf-dir", root, "--list");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stderr);
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                "test-hvm32-example", "test-pv64-example", "test-hvm64-xsa-999~hap", "test-hvm64-xsa-999~shadow",
            }));
        });
    }

    [Test]
    public void ABadInfoJsonIsSkippedWithAWarningAsUpstreamSkipsIt()
    {
        var run = Run(new FakeTestEngine(), null, "--xtf-dir", root, "--list");
        Assert.That(run.StderrLines, Has.Length.EqualTo(2));
        Assert.That(run.StderrLines, Has.Some.StartsWith("Warning: ignoring ").And.Contains("bad-category").And.Contains("Unknown category 'nonsense'"));
        Assert.That(run.StderrLines, Has.Some.Contains("renamed").And.Contains("name 'other' is not its directory's"));
    }

    [Test]
    public void TheEnvironmentVariableNamesTheTreeWhenTheOptionDoesNot()
    {
        var run = Run(new FakeTestEngine(), n => n == "XTF_DIR" ? root : null, "--list", "xsa");
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { "test-hvm64-xsa-999~hap", "test-hvm64-xsa-999~shadow" }));
    }

    [Test]
    public void WithoutEitherOurCatalogIsUsed()
    {
        var run = Run(new FakeTestEngine(), null, "--list", "hvm32-example");
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { "test-hvm32-example" }));
    }

    [Test]
    public void RunsWithUpstreamIdsAndThePlainTable()
    {
        var engine = new FakeTestEngine().Result("test-hvm64-xsa-999~shadow", "FAILURE");
        var run = Run(engine, null, "--xtf-dir", root, "-q", "xsa-999");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(5));
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                "Combined test results:",
                $"{"test-hvm64-xsa-999~hap",-40} SUCCESS",
                $"{"test-hvm64-xsa-999~shadow",-40} FAILURE",
            }));
            Assert.That(engine.Runs.Select(r => r.Instance.Test.Upstream), Has.All.Not.Null);
        });
    }

    [Test]
    public void BuiltinRunsOursBesideUpstreamsAndTheTableSaysWhichIsWhich()
    {
        var engine = new FakeTestEngine();
        var run = Run(engine, null, "--xtf-dir", root, "--builtin", "-q", "hvm32-example");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stderr);
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                "Combined test results:",
                $"{"test-hvm32-example",-40} SUCCESS (xtf.net)",
                $"{"test-hvm32-example",-40} SUCCESS (upstream)",
            }));
            Assert.That(engine.Runs.Select(r => r.Instance.Test.Origin), Is.EqualTo(new[] { TestDescriptor.BuiltinOrigin, TestDescriptor.UpstreamOrigin }));
        });
    }

    [Test]
    public void BuiltinWithoutATreeIsAnError()
    {
        var run = Run(new FakeTestEngine(), null, "--builtin", "example");
        Assert.That((run.ExitCode, run.StderrLines), Is.EqualTo((1, new[] { "Error: --builtin needs --xtf-dir (or XTF_DIR): our tests are the default selection already" })));
    }

    [TestCase("missing", "does not exist")]
    [TestCase("tests/no-info", "has no tests/*/info.json")]
    public void ADirectoryThatIsNoTreeIsOneErrorLine(string sub, string reason)
    {
        var run = Run(new FakeTestEngine(), null, "--xtf-dir", Path.Combine(root, sub), "-a");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.StderrLines[0], Does.StartWith("Error: XTF directory ").And.Contains(reason));
        });
    }

    [Test]
    public void ATestsDirectoryItselfIsAcceptedToo()
    {
        var run = Run(new FakeTestEngine(), null, "--xtf-dir", Path.Combine(root, "tests"), "--list", "pv64-example");
        Assert.That(run.StdoutLines, Is.EqualTo(new[] { "test-pv64-example" }));
    }
}
