using NUnit.Framework;
using Xtf.Core.Testing;

namespace Xtf.Tests.Runner;

/// <summary>
/// xtf-runner's selection grammar (xtf-facts.md section 8), over the fixture catalog:
/// example (utility, all envs), selftest (functional, all), pv-iopl (functional, pv),
/// xsa-106 (xsa, hvm), invlpg (functional, hvm32+hvm64, ~shadow ~hap), nested-vmx
/// (in-development, hvm64), pv-fsgsbase (special, pv64).
/// </summary>
[TestFixture]
public sealed class SelectionTests
{
    private static readonly string[] AllEnvs = ["hvm32", "hvm32pae", "hvm32pse", "hvm64", "pv32pae", "pv64"];

    private static string[] Select(params string[] tokens) => Select(false, false, tokens);

    private static string[] Select(bool all, bool nonDefault, params string[] tokens) =>
        [.. Selection.Interpret(RunnerHarness.Catalog, tokens, all, nonDefault).Select(i => i.Id)];

    private static string[] Join(params string[][] parts) => [.. parts.SelectMany(p => p)];

    private static string[] Instances(string name, params string[] envs) => [.. envs.Select(e => $"test-{e}-{name}")];

    [Test]
    public void NoTokensSelectNothing()
    {
        Assert.That(Select(), Is.Empty);
    }

    [Test]
    public void ACategorySelectsEveryInstanceOfItsTests()
    {
        Assert.That(Select("xsa"), Is.EqualTo(Instances("xsa-106", "hvm32", "hvm32pae", "hvm32pse", "hvm64")));
    }

    [Test]
    public void CategoriesUnion()
    {
        string[] expected =
        [
            "test-hvm32-invlpg~hap", "test-hvm32-invlpg~shadow", "test-hvm64-invlpg~hap", "test-hvm64-invlpg~shadow",
            .. Instances("pv-iopl", "pv32pae", "pv64"),
            .. Instances("selftest", AllEnvs),
            .. Instances("xsa-106", "hvm32", "hvm32pae", "hvm32pse", "hvm64"),
        ];
        Assert.That(Select("functional", "xsa"), Is.EqualTo(expected));
    }

    [Test]
    public void AnEnvironmentAloneSelectsOnlyDefaultCategories()
    {
        Assert.That(
            Select("hvm64"),
            Is.EqualTo(new[] { "test-hvm64-invlpg~hap", "test-hvm64-invlpg~shadow", "test-hvm64-selftest", "test-hvm64-xsa-106" }));
    }

    [Test]
    public void EnvironmentsUnion()
    {
        Assert.That(
            Select("pv64", "pv32pae"),
            Is.EqualTo(new[] { "test-pv32pae-pv-iopl", "test-pv64-pv-iopl", "test-pv32pae-selftest", "test-pv64-selftest" }));
    }

    [Test]
    public void PseudoEnvironmentPvIsBothPvEnvironments()
    {
        Assert.That(Select("pv"), Is.EqualTo(Select("pv32pae", "pv64")));
    }

    [Test]
    public void PseudoEnvironmentHvmIsTheFourHvmEnvironments()
    {
        Assert.That(Select("hvm"), Is.EqualTo(Select("hvm32", "hvm32pse", "hvm32pae", "hvm64")));
        Assert.That(Select("hvm"), Has.Length.EqualTo(4 + 4 + 4));
    }

    [Test]
    public void CategoryAndEnvironmentIntersect()
    {
        Assert.That(Select("xsa", "hvm32"), Is.EqualTo(new[] { "test-hvm32-xsa-106" }));
        Assert.That(Select("functional", "pv64"), Is.EqualTo(new[] { "test-pv64-pv-iopl", "test-pv64-selftest" }));
    }

    [Test]
    public void CategoryAndTestIntersect()
    {
        Assert.That(Select("functional", "selftest"), Is.EqualTo(Instances("selftest", AllEnvs)));
        Assert.That(Select("functional", "example"), Is.Empty, "example is utility, not functional");
    }

    [Test]
    public void ANamedNonDefaultCategoryIsSelectable()
    {
        Assert.That(Select("utility"), Is.EqualTo(Instances("example", AllEnvs)));
        Assert.That(Select("in-development"), Is.EqualTo(new[] { "test-hvm64-nested-vmx" }));
        Assert.That(Select("special"), Is.EqualTo(new[] { "test-pv64-pv-fsgsbase" }));
        Assert.That(Select("utility", "hvm32"), Is.EqualTo(new[] { "test-hvm32-example" }));
    }

    [Test]
    public void ANamedTestSelectsAllItsEnvironments()
    {
        Assert.That(Select("example"), Is.EqualTo(Instances("example", AllEnvs)));
    }

    [Test]
    public void TestsUnion()
    {
        Assert.That(
            Select("pv-iopl", "xsa-106"),
            Is.EqualTo(Join(Instances("pv-iopl", "pv32pae", "pv64"), Instances("xsa-106", "hvm32", "hvm32pae", "hvm32pse", "hvm64"))));
    }

    [Test]
    public void ANamedNonDefaultTestWithAnEnvironmentIsSelectable()
    {
        Assert.That(Select("example", "hvm32"), Is.EqualTo(new[] { "test-hvm32-example" }));
        Assert.That(Select("example", "selftest", "pv"), Is.EqualTo(Join(Instances("example", "pv32pae", "pv64"), Instances("selftest", "pv32pae", "pv64"))));
    }

    [TestCase("pv32pae-pv-iopl", "test-pv32pae-pv-iopl")]
    [TestCase("test-pv64-pv-iopl", "test-pv64-pv-iopl")]
    [TestCase("hvm32-example", "test-hvm32-example")]
    [TestCase("test-hvm64-xsa-106", "test-hvm64-xsa-106")]
    [TestCase("hvm64-invlpg~shadow", "test-hvm64-invlpg~shadow")]
    [TestCase("test-hvm32-invlpg~hap", "test-hvm32-invlpg~hap")]
    public void EnvironmentAndTestPrefixesNameOneInstance(string token, string expected)
    {
        Assert.That(Select(token), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void AVariationWithoutAnEnvironmentSelectsItInEveryEnvironment()
    {
        Assert.That(Select("invlpg~hap"), Is.EqualTo(new[] { "test-hvm32-invlpg~hap", "test-hvm64-invlpg~hap" }));
    }

    [Test]
    public void SortedByNameThenEnvironmentThenVariation()
    {
        // Variations are declared shadow, hap; environments sort as plain strings (hvm32pae < hvm32pse).
        Assert.That(
            Select("invlpg"),
            Is.EqualTo(new[] { "test-hvm32-invlpg~hap", "test-hvm32-invlpg~shadow", "test-hvm64-invlpg~hap", "test-hvm64-invlpg~shadow" }));
        Assert.That(Select("selftest", "example"), Is.EqualTo(Join(Instances("example", AllEnvs), Instances("selftest", AllEnvs))));
    }

    [Test]
    public void RepeatedTokensCountOnce()
    {
        Assert.That(Select("example", "example", "hvm32-example"), Is.EqualTo(Instances("example", AllEnvs)));
    }

    [Test]
    public void AllAddsTheDefaultCategories()
    {
        Assert.That(Select(all: true, nonDefault: false), Is.EqualTo(Select("functional", "xsa")));
        Assert.That(Select(all: true, nonDefault: false, "hvm32"), Is.EqualTo(Select("functional", "xsa", "hvm32")));
    }

    [Test]
    public void NonDefaultAddsTheNonDefaultCategories()
    {
        Assert.That(Select(all: false, nonDefault: true), Is.EqualTo(Select("special", "utility", "in-development")));
        Assert.That(Select(all: false, nonDefault: true, "hvm64"), Is.EqualTo(new[] { "test-hvm64-example", "test-hvm64-nested-vmx" }));
    }

    [Test]
    public void AllAndNonDefaultSelectEverything()
    {
        Assert.That(Select(all: true, nonDefault: true), Is.EquivalentTo(RunnerHarness.Catalog.AllInstances().Select(i => i.Id)));
    }

    [Test]
    public void AnEnvironmentPrefixWithoutAVariationSelectsEveryVariation()
    {
        Assert.That(Select("hvm64-invlpg"), Is.EqualTo(new[] { "test-hvm64-invlpg~hap", "test-hvm64-invlpg~shadow" }));
    }

    [Test]
    public void AVariationTokenIntersectsWithAnEnvironment()
    {
        Assert.That(Select("invlpg~hap", "hvm64"), Is.EqualTo(new[] { "test-hvm64-invlpg~hap" }));
        Assert.That(Select("invlpg~hap", "pv"), Is.Empty);
    }

    [Test]
    public void BothPseudoEnvironmentsAreEveryEnvironment()
    {
        Assert.That(Select("pv", "hvm"), Is.EqualTo(Select(AllEnvs)));
        Assert.That(Select("pv", "hvm"), Is.EqualTo(Select("functional", "xsa")));
    }

    [Test]
    public void CategoryEnvironmentAndTestAllIntersect()
    {
        Assert.That(Select("functional", "pv64", "pv-iopl", "selftest"), Is.EqualTo(new[] { "test-pv64-pv-iopl", "test-pv64-selftest" }));
        Assert.That(Select("xsa", "hvm64", "selftest"), Is.Empty);

        // Upstream's tests_from_selection narrows by the named tests only a non-empty result; when
        // category and environment leave nothing, the named tests are taken as they are.
        Assert.That(Select("xsa", "pv64", "selftest"), Is.EqualTo(Instances("selftest", AllEnvs)));
    }

    [Test]
    public void ANamedInDevelopmentTestBringsItsCategoryInForAnEnvironment()
    {
        Assert.That(Select("nested-vmx", "hvm64"), Is.EqualTo(new[] { "test-hvm64-nested-vmx" }));
        Assert.That(Select("hvm64"), Does.Not.Contain("test-hvm64-nested-vmx"));
        Assert.That(Select("special", "pv64"), Is.EqualTo(new[] { "test-pv64-pv-fsgsbase" }));
    }

    [TestCase("bogus", "Unrecognised test 'bogus'")]
    [TestCase("bogus~hap", "Unrecognised test 'bogus'")]
    [TestCase("PV64", "Unrecognised test 'PV64'")]
    [TestCase("hvm33-example", "Unrecognised test 'hvm33-example'")]
    [TestCase("test-bogus-example", "Unrecognised test 'test-bogus-example'")]
    [TestCase("test-example", "Unrecognised test 'test-example'")]
    [TestCase("Example", "Unrecognised test 'Example'")]
    [TestCase("hvm32-bogus", "Unrecognised test name 'bogus' for 'hvm32-bogus'")]
    [TestCase("test-hvm32-bogus", "Unrecognised test name 'bogus' for 'test-hvm32-bogus'")]
    [TestCase("hvm32-pv-iopl", "Test 'pv-iopl' has no environment 'hvm32'")]
    [TestCase("test-hvm32pse-invlpg~hap", "Test 'invlpg' has no environment 'hvm32pse'")]
    [TestCase("example~hap", "Test 'example' has no variations")]
    [TestCase("invlpg~bogus", "No variation 'bogus' for test 'invlpg'")]
    public void UnknownTokensAreSelectionErrorsWithXtfRunnerMessages(string token, string message)
    {
        var e = Assert.Throws<SelectionException>(() => Select(token));
        Assert.That(e!.Message, Is.EqualTo(message));
    }
}
