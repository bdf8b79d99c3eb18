using NUnit.Framework;
using Xtf.Core.Testing;

namespace Xtf.Tests.Matrix;

/// <summary>
/// The cases the matrix's source yields for a parameter set, taken straight from the source
/// function with a parameter dictionary: the defaults are the matrix as it was before the
/// parameters existed (every instance with FEP, the default categories without it), the selection
/// parameters follow xtf-runner's grammar, quirks turn their guards' expectation to FAILURE, and a
/// bad value is one failing case named after its parameter.
/// </summary>
[TestFixture]
public sealed class MatrixPlanTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.Example.Example).Assembly]);

    private static MatrixPlan Plan(params (string Name, string Value)[] parameters) =>
        MatrixPlan.Build(Catalog, parameters.ToDictionary(p => p.Name, p => p.Value), "/base");

    private static List<string> Names(MatrixPlan plan) =>
        [.. CatalogInstanceTests.InstanceCases(plan).Select(t => t.TestName!)];

    [Test]
    public void DefaultsAreEveryInstanceWithFepAndTheDefaultCategoriesWithout()
    {
        var expected = Catalog.AllInstances().Select(i => i.Id)
            .Concat(Catalog.AllInstances().Where(i => Categories.IsDefault(i.Test.Category)).Select(i => i.Id + " without FEP"));
        var plan = Plan();
        Assert.Multiple(() =>
        {
            Assert.That(Names(plan), Is.EquivalentTo(expected));
            Assert.That(CatalogInstanceTests.BadParameterCases(plan), Is.Empty);
            Assert.That(plan.Cases.Select(c => c.Expected), Has.All.EqualTo(TestResult.Success));
        });
    }

    [Test]
    public void EachCaseCarriesItsTestsCategory()
    {
        var data = CatalogInstanceTests.InstanceCases(Plan()).ToList();
        foreach (var t in data)
        {
            var c = (MatrixCase)t.Arguments[0]!;
            Assert.That(t.Properties["Category"], Is.EqualTo(new[] { Categories.Name(c.Instance.Test.Category) }), t.TestName);
        }
    }

    [Test]
    public void AnEnvironmentAloneSelectsFromTheDefaultCategories()
    {
        // upstream tests_from_selection: environments on their own pick from functional and xsa.
        var ids = Catalog.AllInstances().Where(i => i.Id.StartsWith("test-hvm64-", StringComparison.Ordinal) && Categories.IsDefault(i.Test.Category)).Select(i => i.Id).ToList();
        Assert.That(Names(Plan(("environments", "hvm64"))), Is.EquivalentTo(ids.Concat(ids.Select(i => i + " without FEP"))));
    }

    [Test]
    public void SelectionAndEnvironmentsIntersect() =>
        Assert.That(Names(Plan(("selection", "example"), ("environments", "pv"), ("fep", "on"))),
            Is.EquivalentTo(new[] { "test-pv32pae-example", "test-pv64-example" }));

    [Test]
    public void CategoriesUnionAndIntersectWithEnvironments() =>
        Assert.That(Names(Plan(("categories", "xsa,utility"), ("environments", "pv64"), ("fep", "off"))),
            Is.EquivalentTo(new[] { "test-pv64-cpuid without FEP", "test-pv64-xsa-213 without FEP" })); // example is special, as upstream's

    [Test]
    public void VariationsAreTheRunnersVariationOption()
    {
        // As `xtf-runner pv-iopl example pv64 --variation hypercall`: example has no variations, so it goes.
        var names = Names(Plan(("selection", "pv-iopl example"), ("environments", "pv64"), ("variations", "hypercall"), ("fep", "on")));
        Assert.That(names, Is.EquivalentTo(new[] { "test-pv64-pv-iopl~hypercall" }));
    }

    [Test]
    public void UnderAQuirkItsGuardsMustFail()
    {
        // swint-emulation (every HVM environment) and xsa-196 (hvm64) declare Guards = xsa-106.
        var plan = Plan(("quirks", "xsa-106"), ("fep", "on"));
        var failing = plan.Cases.Where(c => c.Expected == TestResult.Failure).Select(c => c.Name);
        Assert.Multiple(() =>
        {
            Assert.That(failing, Is.EquivalentTo(new[]
            {
                "test-hvm32-swint-emulation", "test-hvm32pae-swint-emulation", "test-hvm32pse-swint-emulation",
                "test-hvm64-swint-emulation", "test-hvm64-xsa-196",
            }));
            Assert.That(plan.Cases, Has.Count.EqualTo(Catalog.AllInstances().Count()));
        });
    }

    [Test]
    public void ShardsSplitEachHypervisorsSelection()
    {
        var whole = Names(Plan());
        var one = Names(Plan(("shard", "1/2")));
        var two = Names(Plan(("shard", "2/2")));
        Assert.Multiple(() =>
        {
            Assert.That(one.Intersect(two), Is.Empty);
            Assert.That(one.Concat(two), Is.EquivalentTo(whole));
            Assert.That(Math.Abs(one.Count - two.Count), Is.LessThanOrEqualTo(2));
        });
    }

    [TestCase("selection", "no-such-test", "Unrecognised test 'no-such-test'")]
    [TestCase("variations", "nested", "Unknown variation 'nested'")]
    [TestCase("environments", "hvm65", "unknown environment 'hvm65'")]
    [TestCase("budget", "0", "'0' is not a positive number of instructions")]
    public void ABadValueIsOneFailingCaseNamedAfterIt(string name, string value, string reason)
    {
        var plan = Plan((name, value));
        var bad = CatalogInstanceTests.BadParameterCases(plan).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(bad.Select(t => t.TestName), Is.EqualTo(new[] { "TestRunParameters." + name }));
            Assert.That(bad.Single().Arguments[0] as string, Does.Contain(reason));
            Assert.That(CatalogInstanceTests.InstanceCases(plan), Is.Empty);
        });
    }

    [Test]
    public void ASelectionOfNothingIsNoTestsToRun()
    {
        // xsa-204 has hvm64 only, so it has no hvm32 instance: upstream's "No tests to run".
        var plan = Plan(("selection", "xsa-204"), ("environments", "hvm32"));
        Assert.That(CatalogInstanceTests.BadParameterCases(plan).Select(t => (t.TestName, t.Arguments[0])),
            Is.EqualTo(new[] { ("TestRunParameters.selection", (object?)"No tests to run") }));
    }

    [Test]
    public void AnExpectationsFileSetsTheResultOfWhatItLists()
    {
        // The nightly file for xsa-196, relative to the repository root as the matrix reads it.
        var plan = MatrixPlan.Build(Catalog, new Dictionary<string, string>
        {
            ["quirks"] = "xsa-196",
            ["selection"] = "xsa-186 xsa-196",
            ["fep"] = "on",
            ["expect"] = ".ci/nightly/expect/xsa-196.expect",
        }, RepositoryRoot.Find()!);
        Assert.That(plan.Cases.ToDictionary(c => c.Name, c => c.Expected), Is.EquivalentTo(new Dictionary<string, TestResult>
        {
            ["test-hvm32-xsa-186"] = TestResult.Success,
            ["test-hvm64-xsa-186"] = TestResult.Crash,
            ["test-hvm64-xsa-196"] = TestResult.Failure,
        }));
    }

    [Test]
    public void AnExpectationForNoInstanceIsABadExpectParameter()
    {
        string file = Path.Combine(TestContext.CurrentContext.WorkDirectory, "stranger.expect");
        File.WriteAllText(file, "test-hvm64-no-such-test FAILURE\n");
        var bad = CatalogInstanceTests.BadParameterCases(Plan(("expect", file))).Single();
        Assert.Multiple(() =>
        {
            Assert.That(bad.TestName, Is.EqualTo("TestRunParameters.expect"));
            Assert.That(bad.Arguments[0], Is.EqualTo($"{file}: line 1: unknown test instance 'test-hvm64-no-such-test'"));
        });
    }
}
