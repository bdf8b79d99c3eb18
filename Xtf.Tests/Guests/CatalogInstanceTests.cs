using NUnit.Framework;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// One NUnit case per catalog instance: boots it and decides the result from its console log
/// alone, as xtf-runner does. Every test in the catalog is expected to pass on a correct CPU
/// and hypervisor.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class CatalogInstanceTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.Example.Example).Assembly]);

    public static IEnumerable<TestCaseData> Instances() =>
        Catalog.AllInstances().Select(i => new TestCaseData(i.Id).SetName(i.Id).SetCategory(Categories.Name(i.Test.Category)));

    [TestCaseSource(nameof(Instances))]
    public void InstanceSucceeds(string id)
    {
        var instance = Catalog.AllInstances().Single(i => i.Id == id);
        var outcome = new TestEngine().Run(instance, new RunSettings { InstructionBudget = 20_000_000 });
        Assert.That(outcome.Result, Is.EqualTo(TestResult.Success),
            $"{id} ended {outcome.Result} ({outcome.Diagnostic}); console:\n{outcome.ConsoleLog}");

        // DESIGN.md section 5: every message goes to each console channel (debug port and
        // console_io, and the PV console ring), with CRLF line ends from the guest.
        Assert.That(outcome.HypervisorConsole, Is.EqualTo(outcome.ConsoleLog), "console_io and the debug port disagree");
        Assert.That(outcome.PvConsole, Is.EqualTo(outcome.ConsoleLog), "the PV console ring and the debug port disagree");
        Assert.That(outcome.ConsoleLog.Replace("\r\n", "", StringComparison.Ordinal), Does.Not.Contain("\n"), "a line does not end in CRLF");
    }

    public static IEnumerable<TestCaseData> DefaultInstances() =>
        Catalog.AllInstances().Where(i => Categories.IsDefault(i.Test.Category))
            .Select(i => new TestCaseData(i.Id).SetName(i.Id + " without FEP").SetCategory(Categories.Name(i.Test.Category)));

    /// <summary>
    /// Xen without hvm_fep (a production build): the default selection still passes, except that
    /// tests needing the emulator SKIP with XTF's message, after any part they can run natively.
    /// </summary>
    [TestCaseSource(nameof(DefaultInstances))]
    public void InstanceSucceedsOrSkipsForFepWithoutIt(string id)
    {
        var instance = Catalog.AllInstances().Single(i => i.Id == id);
        var outcome = new TestEngine().Run(instance, new RunSettings { InstructionBudget = 20_000_000, Fep = false });
        if (outcome.Result == TestResult.Skip)
        {
            Assert.That(outcome.ConsoleLog, Does.Contain("FEP support not detected - some tests will be skipped\r\n")
                .Or.Contain("FEP unavailable, but needed by test. (Is Xen support\r\n"), outcome.ConsoleLog);
            return;
        }

        Assert.That(outcome.Result, Is.EqualTo(TestResult.Success),
            $"{id} ended {outcome.Result} ({outcome.Diagnostic}); console:\n{outcome.ConsoleLog}");
    }

    [Test]
    public void CatalogHasTheWalkingSkeletonTests()
    {
        var ids = Catalog.AllInstances().Select(i => i.Id).ToList();
        Assert.That(ids, Does.Contain("test-hvm32-example").And.Contain("test-hvm32-selftest"));
    }
}
