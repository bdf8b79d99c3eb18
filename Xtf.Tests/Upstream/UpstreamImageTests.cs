using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.Core.Testing.Upstream;
using Xtf.Tests.Matrix;

namespace Xtf.Tests.Upstream;

/// <summary>
/// Upstream XTF's own images, booted as Xen's toolstack boots them: one case per instance of the
/// tree the runsettings parameter <c>xtfdir</c> (or <c>$XTF_DIR</c>) names, each expected to give
/// SUCCESS unless <c>upstream.expect</c> (the repository's record of the instances that do not, with
/// the reason for each) lists another result. Without a tree the suite is one skipped case that
/// says how to run it: CI has no upstream build, and none is committed.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class UpstreamImageTests
{
    /// <summary>The expectations file beside xtf.runsettings.</summary>
    public const string ExpectFile = "upstream.expect";

    private static readonly Lazy<(UpstreamTree? Tree, string? Why)> Tree = new(Open);

    private static (UpstreamTree?, string?) Open()
    {
        string? dir = TestContext.Parameters["xtfdir"] is { Length: > 0 } p ? p : Environment.GetEnvironmentVariable("XTF_DIR");
        if (string.IsNullOrWhiteSpace(dir))
            return (null, "no upstream XTF tree: set XTF_DIR (or the runsettings parameter xtfdir) to an XTF build or install tree to run upstream's images");
        try
        {
            return (UpstreamTree.Open(dir), null);
        }
        catch (UpstreamTreeException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>One case per upstream instance, named by its id; or the single skipped case.</summary>
    public static IEnumerable<TestCaseData> Instances()
    {
        var (tree, why) = Tree.Value;
        if (tree is null)
        {
            yield return new TestCaseData(null, why).SetName("upstream images (skipped)");
            yield break;
        }

        var catalog = TestCatalog.FromDescriptors(tree.Tests);
        Expectations expect;
        try
        {
            expect = ReadExpectations(catalog);
        }
        catch (ExpectationsException e)
        {
            expect = Expectations.None;
            why = $"{ExpectFile} does not fit this tree (another XTF version?): {e.Message}";
        }

        if (why is not null)
            yield return new TestCaseData(null, why).SetName("upstream.expect");
        foreach (var instance in catalog.AllInstances())
            yield return new TestCaseData(instance, expect.For(instance)).SetName(instance.Id).SetCategory("upstream");
    }

    private static Expectations ReadExpectations(TestCatalog catalog)
    {
        string path = Path.Combine(RepositoryRoot.Find() ?? Environment.CurrentDirectory, ExpectFile);
        return File.Exists(path) ? Expectations.Parse(File.ReadAllText(path), catalog) : Expectations.None;
    }

    [TestCaseSource(nameof(Instances))]
    public void Instance(TestInstance? instance, object expectedOrWhy)
    {
        if (instance is null)
        {
            if (Tree.Value.Tree is null)
                Assert.Ignore((string)expectedOrWhy);
            else
                Assert.Fail((string)expectedOrWhy);
            return;
        }

        var expected = (TestResult)expectedOrWhy;
        var outcome = new TestEngine().Run(instance, new RunSettings());
        Assert.That(outcome.Result, Is.EqualTo(expected),
            $"{instance.Id} ended {outcome.Result} ({outcome.Diagnostic}); {ExpectFile} says {expected}. Console:\n{outcome.ConsoleLog}");
    }
}
