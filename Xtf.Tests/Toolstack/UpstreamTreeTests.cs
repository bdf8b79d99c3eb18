using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.Core.Testing.Upstream;
using static Xtf.Tests.Toolstack.TestGuests;

namespace Xtf.Tests.Toolstack;

/// <summary>
/// UpstreamTree.Open on a fake XTF tree in a temp directory (tests/NAME/info.json, cfg, image), with
/// upstream xtf-runner's TestInfo checks, and the engine running an instance of it.
/// </summary>
[TestFixture]
public sealed class UpstreamTreeTests
{
    private string root = "";

    [SetUp]
    public void SetUp() => root = Directory.CreateTempSubdirectory("xtf-upstream-tree-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(root, recursive: true);

    private static string Info(string name, string category = "functional", string envs = "[\"hvm32\"]", string variations = "[]") =>
        $"{{\"name\": \"{name}\", \"category\": \"{category}\", \"environments\": {envs}, \"variations\": {variations}}}";

    private string AddTest(string dir, string? info, bool image = true, string? cfg = null)
    {
        string d = Path.Combine(root, "tests", dir);
        Directory.CreateDirectory(d);
        if (info is not null)
            File.WriteAllText(Path.Combine(d, "info.json"), info);
        if (image)
            File.WriteAllBytes(Path.Combine(d, $"test-hvm32-{dir}"), Image(Kind.Pvh));
        if (cfg is not null)
            File.WriteAllText(Path.Combine(d, $"test-hvm32-{dir}.cfg"), cfg);
        return d;
    }

    [Test]
    public void FindsTestsSortedByName()
    {
        AddTest("zeta", Info("zeta"));
        AddTest("alpha", Info("alpha", "xsa", "[\"hvm32\", \"pv64\"]", "[\"a\", \"b\"]"));
        var tree = UpstreamTree.Open(root);
        Assert.That(tree.Root, Is.EqualTo(Path.GetFullPath(root)));
        Assert.That(tree.Tests.Select(t => t.Name), Is.EqualTo(new[] { "alpha", "zeta" }));
        var alpha = tree.Tests[0];
        Assert.That(alpha.Category, Is.EqualTo(Category.Xsa));
        Assert.That(alpha.Variations, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(alpha.Instances().Select(i => i.Id), Is.EquivalentTo(new[] { "test-pv64-alpha~a", "test-pv64-alpha~b", "test-hvm32-alpha~a", "test-hvm32-alpha~b" }));
        Assert.That(tree.Skipped, Is.Empty);
        Assert.That(UpstreamTree.Open(Path.Combine(root, "tests")).Tests, Has.Count.EqualTo(2), "the tests/ directory itself is accepted");
    }

    // Upstream xtf-runner TestInfo.__init__: each key's type, the category and environments in
    // all_categories / all_environments, at least one environment; get_all_test_info: name == dir.
    [TestCase("{\"category\": \"functional\", \"environments\": [\"hvm32\"], \"variations\": []}", "Expected string for 'name'")]
    [TestCase("{\"name\": 1, \"category\": \"functional\", \"environments\": [\"hvm32\"], \"variations\": []}", "Expected string for 'name'")]
    [TestCase("{\"name\": \"bad\", \"category\": \"nope\", \"environments\": [\"hvm32\"], \"variations\": []}", "Unknown category 'nope'")]
    [TestCase("{\"name\": \"bad\", \"category\": \"functional\", \"environments\": \"hvm32\", \"variations\": []}", "Expected list for 'environments'")]
    [TestCase("{\"name\": \"bad\", \"category\": \"functional\", \"environments\": [], \"variations\": []}", "Expected at least one environment")]
    [TestCase("{\"name\": \"bad\", \"category\": \"functional\", \"environments\": [\"hvm128\"], \"variations\": []}", "Unknown environments 'hvm128'")]
    [TestCase("{\"name\": \"bad\", \"category\": \"functional\", \"environments\": [\"PV64\"], \"variations\": []}", "Unknown environments 'PV64'")]
    [TestCase("{\"name\": \"bad\", \"category\": \"functional\", \"environments\": [\"hvm32\"]}", "Expected list for 'variations'")]
    [TestCase("{\"name\": \"other\", \"category\": \"functional\", \"environments\": [\"hvm32\"], \"variations\": []}", "name 'other' is not its directory's ('bad')")]
    [TestCase("[1]", "not a JSON object")]
    [TestCase("{", "")]
    public void BadInfoJsonIsSkipped(string json, string why)
    {
        AddTest("good", Info("good"));
        string bad = AddTest("bad", json);
        var tree = UpstreamTree.Open(root);
        Assert.That(tree.Tests.Select(t => t.Name), Is.EqualTo(new[] { "good" }));
        Assert.That(tree.Skipped, Has.Count.EqualTo(1));
        Assert.That(tree.Skipped[0], Does.StartWith(Path.Combine(bad, "info.json") + ": ").And.Contain(why));
    }

    [Test]
    public void DirectoryWithoutInfoJsonIsIgnored()
    {
        AddTest("good", Info("good"));
        AddTest("common", null);
        var tree = UpstreamTree.Open(root);
        Assert.That(tree.Tests.Select(t => t.Name), Is.EqualTo(new[] { "good" }));
        Assert.That(tree.Skipped, Is.Empty);
    }

    [Test]
    public void MissingDirectory() =>
        Assert.That(() => UpstreamTree.Open(Path.Combine(root, "nowhere")), Throws.TypeOf<UpstreamTreeException>().With.Message.Contains("does not exist"));

    [Test]
    public void NoTests()
    {
        AddTest("common", null);
        Assert.That(() => UpstreamTree.Open(root), Throws.TypeOf<UpstreamTreeException>().With.Message.Contains("has no tests/*/info.json"));
    }

    [Test]
    public void OnlyBadTestsIsNoTests()
    {
        AddTest("bad", "{}");
        Assert.That(() => UpstreamTree.Open(root), Throws.TypeOf<UpstreamTreeException>());
    }

    /// <summary>The cfg names an absolute kernel path from the machine the tree was built on; the image beside the cfg is used.</summary>
    [Test]
    public void EngineRunsAnInstanceToSuccess()
    {
        AddTest("ok", Info("ok"), cfg: "name = \"test-hvm32-ok\"\ntype = \"hvm\"\nfirmware_override = \"/nonexistent/xtf/tests/ok/test-hvm32-ok\"\nmemory = 32\n");
        var instance = UpstreamTree.Open(root).Tests[0].Instances().Single();
        var outcome = new TestEngine().Run(instance, new RunSettings { UpstreamInstructionBudget = 2_000_000 });
        Assert.That(outcome.Result, Is.EqualTo(TestResult.Success), outcome.ConsoleLog);
        Assert.That(outcome.PvConsole, Does.EndWith(Success + "\n"));
    }

    [Test]
    public void MissingCfgIsACrashWithReason()
    {
        AddTest("ok", Info("ok"));
        var instance = UpstreamTree.Open(root).Tests[0].Instances().Single();
        var outcome = new TestEngine().Run(instance, new RunSettings());
        Assert.That(outcome.Result, Is.EqualTo(TestResult.Crash));
        Assert.That(outcome.Diagnostic, Does.StartWith("xl create: ").And.Contain("test-hvm32-ok.cfg"));
    }

    [Test]
    public void MissingImageIsACrashWithReason()
    {
        AddTest("ok", Info("ok"), image: false, cfg: "type = \"hvm\"\nfirmware_override = \"/nonexistent/x\"\n");
        var outcome = new TestEngine().Run(UpstreamTree.Open(root).Tests[0].Instances().Single(), new RunSettings());
        Assert.That(outcome.Result, Is.EqualTo(TestResult.Crash));
        Assert.That(outcome.Diagnostic, Does.Contain("no image: neither /nonexistent/x"));
    }

    [Test]
    public void BadCfgIsACrashNamingTheLine()
    {
        AddTest("ok", Info("ok"), cfg: "type = \"hvm\"\nmemory = ?\n");
        var outcome = new TestEngine().Run(UpstreamTree.Open(root).Tests[0].Instances().Single(), new RunSettings());
        Assert.That(outcome.Result, Is.EqualTo(TestResult.Crash));
        Assert.That(outcome.Diagnostic, Does.Contain("test-hvm32-ok.cfg: line 2: "));
    }
}
