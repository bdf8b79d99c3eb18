using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.Runner.New;

namespace Xtf.Tests.Runner;

/// <summary>
/// The names <c>xtf-runner new</c> takes and the classes it makes of them: the rule testcases/
/// follows (each test's class and namespace), and every upstream XTF test name is accepted.
/// Refused names are in <see cref="NewCommandTests"/>.
/// </summary>
[TestFixture]
public sealed class NewTestNameTests
{
    [TestCase("xsa-123", "Xsa123")]
    [TestCase("pv-iopl", "PvIopl")]
    [TestCase("cve-2017-2583", "Cve20172583")]
    [TestCase("nmi-taskswitch-priv", "NmiTaskswitchPriv")]
    [TestCase("vvmx", "Vvmx")]
    public void ClassNameCapitalisesEachWord(string name, string className) =>
        Assert.That(TestName.ClassName(name), Is.EqualTo(className));

    /// <summary>The rule is the one testcases/ follows: each test's class and namespace, and its name is accepted.</summary>
    [Test]
    public void EveryTestInTheRepositoryFollowsTheNamingRule()
    {
        var catalog = new TestCatalog([typeof(Xtf.TestCases.TestCasesAssembly).Assembly]);
        Assert.That(catalog.Tests, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            foreach (var test in catalog.Tests)
            {
                Assert.That(TestName.ClassName(test.Name), Is.EqualTo(test.Type!.Name), test.Name);
                Assert.That(test.Type!.Namespace, Is.EqualTo($"Xtf.TestCases.{test.Type!.Name}"), test.Name);
                Assert.That(TestName.Problem(test.Name), Is.Null, test.Name);
            }
        });
    }

    /// <summary>Names of upstream XTF tests (andyhhp/xtf tests/): all of them must be accepted.</summary>
    [TestCase("xsa-472-1")]
    [TestCase("xsa-consoleio-write")]
    [TestCase("nmi-taskswitch-priv")]
    [TestCase("livepatch-priv-check")]
    [TestCase("lbr-tsx-vmentry")]
    [TestCase("pv-fsgsbase")]
    [TestCase("xsa-7")]
    [TestCase("vvmx")]
    public void UpstreamTestNamesAreAccepted(string name) => Assert.That(TestName.Problem(name), Is.Null);
}
