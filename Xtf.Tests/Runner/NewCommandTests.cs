using NUnit.Framework;
using Xtf.Runner;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>xtf-runner new NAME</c>, XTF's make-new-test.sh: what it writes (with upstream's defaults:
/// category xsa for xsa-* names else utility, environment hvm32, title "Test NAME" or "NAME_UC PoC"),
/// the names it refuses, and bad input (one <c>Error:</c> line, exit 1, nothing written). Every run
/// names a temporary <c>--dir</c>, so nothing is written into the repository.
/// Accepted names are <see cref="NewTestNameTests"/>; that the written test builds and passes is
/// <see cref="NewTestBuildsAndPassesTests"/>.
/// </summary>
[TestFixture]
public sealed class NewCommandTests
{
    private string dir = "";

    [SetUp]
    public void CreateDirectory() => dir = Directory.CreateTempSubdirectory("xtf-new-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(dir, recursive: true);

    [Test]
    public void WritesOneFileWithUpstreamsDefaults()
    {
        var run = RunnerHarness.Run("new", "my-test", "--dir", dir);
        string file = Path.Combine(dir, "my-test", "MyTest.cs");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stderr);
            Assert.That(run.Stderr, Is.Empty);
            Assert.That(run.StdoutLines, Is.EqualTo(new[]
            {
                "Test name: my-test",
                "Category: utility",
                "Environments: hvm32",
                $"Writing default {file}",
            }));
            Assert.That(Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories),
                Is.EquivalentTo(new[] { Path.Combine(dir, "my-test"), file }));
        });

        string source = File.ReadAllText(file);
        Assert.Multiple(() =>
        {
            Assert.That(source, Does.Contain("\nnamespace Xtf.TestCases.MyTest;\n"));
            Assert.That(source, Does.Contain("\n[XtfTest(\"my-test\", Category.Utility, Environments.Hvm32, Title = \"Test my-test\")]\n"
                + "public sealed class MyTest : TestCase\n"));
            Assert.That(source, Does.Contain("    public override void Main()\n    {\n        Success();\n    }\n"));
            Assert.That(source, Does.Contain("@todo"), "the header says what to fill in");
            Assert.That(source, Does.Not.Contain("\r"));
        });
    }

    [Test]
    public void AnXsaNameIsInTheXsaCategoryWithAPocTitleAndTheAdvisory()
    {
        var run = RunnerHarness.Run("new", "xsa-999", "--dir", dir);
        string source = File.ReadAllText(Path.Combine(dir, "xsa-999", "Xsa999.cs"));
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stderr);
            Assert.That(run.StdoutLines[1], Is.EqualTo("Category: xsa"));
            Assert.That(source, Does.Contain("[XtfTest(\"xsa-999\", Category.Xsa, Environments.Hvm32, Title = \"XSA-999 PoC\")]"));
            Assert.That(source, Does.Contain("https://xenbits.xen.org/xsa/advisory-999.html"));
        });
    }

    /// <summary>make-new-test.sh picks the title by the category chosen, not by the name.</summary>
    [Test]
    public void TheCategoryOptionOverridesTheDefaultAndDecidesTheTitle()
    {
        var run = RunnerHarness.Run("new", "xsa-999", "--category", "functional", "--dir", dir);
        string source = File.ReadAllText(Path.Combine(dir, "xsa-999", "Xsa999.cs"));
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stderr);
            Assert.That(source, Does.Contain("[XtfTest(\"xsa-999\", Category.Functional, Environments.Hvm32, Title = \"Test xsa-999\")]"));
        });
    }

    [TestCase("in-development", "Category.InDevelopment")]
    [TestCase("special", "Category.Special")]
    public void EveryCategoryIsTheEnumMember(string category, string expression)
    {
        var run = RunnerHarness.Run("new", "some-test", "--category", category, "--dir", dir);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stderr);
            Assert.That(File.ReadAllText(Path.Combine(dir, "some-test", "SomeTest.cs")), Does.Contain($"\"some-test\", {expression}, "));
        });
    }

    /// <summary>The environments written as testcases/ writes them (Environments.Hvm, .Pv, .All for whole groups).</summary>
    [TestCase(new[] { "--env", "pv64" }, "Environments.Pv64", "pv64")]
    [TestCase(new[] { "--env", "hvm32", "--env", "pv64" }, "Environments.Hvm32 | Environments.Pv64", "hvm32 pv64")]
    [TestCase(new[] { "--env", "pv64,hvm32" }, "Environments.Hvm32 | Environments.Pv64", "hvm32 pv64")]
    [TestCase(new[] { "--env", "hvm32pae hvm64 pv" }, "Environments.Hvm32Pae | Environments.Hvm64 | Environments.Pv", "hvm32pae hvm64 pv32pae pv64")]
    [TestCase(new[] { "--env", "hvm" }, "Environments.Hvm", "hvm32 hvm32pae hvm32pse hvm64")]
    [TestCase(new[] { "--env", "pv", "--env", "hvm" }, "Environments.All", "hvm32 hvm32pae hvm32pse hvm64 pv32pae pv64")]
    [TestCase(new[] { "--env", "hvm32", "--env", "hvm32pse", "--env", "hvm32pae", "--env", "hvm64", "--env", "pv32pae" },
        "Environments.Hvm | Environments.Pv32Pae", "hvm32 hvm32pae hvm32pse hvm64 pv32pae")]
    public void EnvironmentsAreTheUnionOfTheEnvOptions(string[] options, string expression, string listed)
    {
        var run = RunnerHarness.Run(["new", "some-test", .. options, "--dir", dir]);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stderr);
            Assert.That(run.StdoutLines[2], Is.EqualTo($"Environments: {listed}"));
            Assert.That(File.ReadAllText(Path.Combine(dir, "some-test", "SomeTest.cs")), Does.Contain($", Category.Utility, {expression}, Title = "));
        });
    }

    [TestCase("", "No name given")]
    [TestCase("Foo", "must be lowercase letters and digits")]
    [TestCase("foo_bar", "must be lowercase letters and digits")]
    [TestCase("foo--bar", "must be lowercase letters and digits")]
    [TestCase("-foo", "Unrecognised option '-foo'")]
    [TestCase("foo-", "must be lowercase letters and digits")]
    [TestCase("2fast", "must be lowercase letters and digits")]
    [TestCase("foo~bar", "must be lowercase letters and digits")]
    [TestCase("foo.bar", "must be lowercase letters and digits")]
    [TestCase("../foo", "must be lowercase letters and digits")]
    [TestCase("test-foo", "must not start with 'test-'")]
    [TestCase("hvm64-foo", "must not start with 'hvm64-'")]
    [TestCase("pv32pae-foo", "must not start with 'pv32pae-'")]
    [TestCase("xsa", "is a category or environment")]
    [TestCase("in-development", "is a category or environment")]
    [TestCase("hvm32pse", "is a category or environment")]
    [TestCase("pv", "is a category or environment")]
    [TestCase("info", "is an xtf-runner command")]
    [TestCase("bench", "is an xtf-runner command")]
    [TestCase("conformance", "is an xtf-runner command")]
    [TestCase("new", "is an xtf-runner command")]
    [TestCase("environments", "hides the framework type")]
    [TestCase("category", "hides the framework type")]
    [TestCase("xtf-test", "hides the framework type")]
    public void ABadNameIsOneErrorLineAndWritesNothing(string name, string reason)
    {
        var run = RunnerHarness.Run("new", name, "--dir", dir);
        AssertOneErrorAndNothingWritten(run);
        Assert.That(run.StderrLines[0], Does.Contain(reason));
    }

    [TestCase(new[] { "--category", "bogus" }, "Error: Unrecognised category 'bogus' (known: special, functional, xsa, utility, in-development)")]
    [TestCase(new[] { "--category", "Functional" }, "Error: Unrecognised category 'Functional' (known: special, functional, xsa, utility, in-development)")]
    [TestCase(new[] { "--env", "hvm16" }, "Error: Unrecognised environment 'hvm16' (known: hvm32, hvm32pae, hvm32pse, hvm64, pv32pae, pv64, hvm, pv)")]
    [TestCase(new[] { "--env", "hvm32,pv48" }, "Error: Unrecognised environment 'pv48' (known: hvm32, hvm32pae, hvm32pse, hvm64, pv32pae, pv64, hvm, pv)")]
    [TestCase(new[] { "--env", "" }, "Error: Unrecognised environment '' (known: hvm32, hvm32pae, hvm32pse, hvm64, pv32pae, pv64, hvm, pv)")]
    public void AnUnknownCategoryOrEnvironmentIsOneErrorLine(string[] options, string error)
    {
        var run = RunnerHarness.Run(["new", "some-test", .. options, "--dir", dir]);
        AssertOneErrorAndNothingWritten(run);
        Assert.That(run.StderrLines, Is.EqualTo(new[] { error }));
    }

    [TestCase(new[] { "new" }, "Error: No name given (usage: xtf-runner new NAME [--category C] [--env E]... [--dir DIR])")]
    [TestCase(new[] { "new", "one-test", "two-test" }, "Error: Unrecognized command or argument 'two-test'.")]
    [TestCase(new[] { "new", "--bogus", "some-test" }, "Error: Unrecognised option '--bogus'")]
    [TestCase(new[] { "new", "some-test", "--category" }, "Error: Required argument missing for option: '--category'.")]
    [TestCase(new[] { "new", "some-test", "--env" }, "Error: Required argument missing for option: '--env'.")]
    public void UsageErrorsAreOneErrorLine(string[] args, string error)
    {
        var run = RunnerHarness.Run([args[0], "--dir", dir, .. args[1..]]);
        AssertOneErrorAndNothingWritten(run);
        Assert.That(run.StderrLines, Is.EqualTo(new[] { error }));
    }

    [Test]
    public void ADirThatIsNotADirectoryIsOneErrorLine()
    {
        string missing = Path.Combine(dir, "no-such-dir");
        var run = RunnerHarness.Run("new", "some-test", "--dir", missing);
        AssertOneErrorAndNothingWritten(run);
        Assert.That(run.StderrLines, Is.EqualTo(new[] { $"Error: --dir: '{missing}' is not a directory" }));
    }

    /// <summary>make-new-test.sh: <c>[ -e tests/$NAME ] &amp;&amp; fail "Test $NAME already exists"</c>.</summary>
    [TestCase(true)]
    [TestCase(false)]
    public void AnExistingFolderOrFileIsNeverOverwritten(bool folder)
    {
        string path = Path.Combine(dir, "some-test");
        string kept = folder ? Path.Combine(path, "SomeTest.cs") : path;
        if (folder)
            Directory.CreateDirectory(path);
        File.WriteAllText(kept, "mine");

        var run = RunnerHarness.Run("new", "some-test", "--dir", dir);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { "Error: Test some-test already exists" }));
            Assert.That(run.Stdout, Is.Empty);
            Assert.That(File.ReadAllText(kept), Is.EqualTo("mine"));
            Assert.That(Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories), Has.Length.EqualTo(folder ? 2 : 1));
        });
    }

    [Test]
    public void TheSameNameTwiceLeavesTheFirstAlone()
    {
        Assert.That(RunnerHarness.Run("new", "some-test", "--dir", dir).ExitCode, Is.Zero);
        string file = Path.Combine(dir, "some-test", "SomeTest.cs");
        File.WriteAllText(file, "edited");

        var run = RunnerHarness.Run("new", "some-test", "--category", "functional", "--dir", dir);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { "Error: Test some-test already exists" }));
            Assert.That(File.ReadAllText(file), Is.EqualTo("edited"));
        });
    }

    /// <summary>Test names are unique in the catalog, wherever the other test's folder is.</summary>
    [Test]
    public void TheNameOfATestInTheCatalogIsTaken()
    {
        var run = RunnerHarness.Run("new", "example", "--dir", dir);
        AssertOneErrorAndNothingWritten(run);
        Assert.That(run.StderrLines[0], Does.StartWith("Error: Test example already exists ("));
    }

    [Test]
    public void HelpNamesTheOptionsAndTheDefaultDirectory()
    {
        var run = RunnerHarness.Run("new", "--help");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.Stdout, Does.Contain("--category").And.Contain("--env").And.Contain("--dir").And.Contain("Xtf.slnx"));
            Assert.That(Directory.GetFileSystemEntries(dir), Is.Empty);
        });
    }

    /// <summary>Without --dir: testcases/ beside Xtf.slnx, in the working directory or the nearest one above it.</summary>
    [Test]
    public void WithoutDirTheTestGoesIntoTheRepositorysTestcasesFolder()
    {
        File.WriteAllText(Path.Combine(dir, "Xtf.slnx"), "<Solution />");
        Directory.CreateDirectory(Path.Combine(dir, "testcases"));
        string below = Directory.CreateDirectory(Path.Combine(dir, "Xtf.Runner", "bin")).FullName;

        using var stdout = new StringWriter();
        int exit = new NewCommand(RunnerHarness.Catalog, stdout, TextWriter.Null, below).Run(["some-test"]);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero);
            Assert.That(File.Exists(Path.Combine(dir, "testcases", "some-test", "SomeTest.cs")), Is.True, stdout.ToString());
            Assert.That(Directory.GetFileSystemEntries(below), Is.Empty);
        });
    }

    [Test]
    public void WithoutDirOutsideARepositoryItSaysToGiveOne()
    {
        // A testcases folder without Xtf.slnx beside it is not the repository's.
        Directory.CreateDirectory(Path.Combine(dir, "testcases"));
        var e = Assert.Throws<RunnerException>(() => new NewCommand(RunnerHarness.Catalog, TextWriter.Null, TextWriter.Null, dir).Run(["some-test"]));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain("--dir"));
            Assert.That(Directory.GetFileSystemEntries(Path.Combine(dir, "testcases")), Is.Empty);
        });
    }

    private void AssertOneErrorAndNothingWritten(RunnerRun run) => Assert.Multiple(() =>
    {
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.StderrLines, Has.Length.EqualTo(1).And.All.StartWith("Error: "));
        Assert.That(run.Stdout, Is.Empty);
        Assert.That(Directory.GetFileSystemEntries(dir), Is.Empty);
    });
}
