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
        // console_io, and the PV console ring), with CRLF line ends from the guest. A message
        // printed from user mode goes only where user mode may write: the debug port (with IOPL 3)
        // and console_io (with the hypercall iopl), not the kernel's ring page; so the ring carries
        // the debug port's lines with those left out, in the same order.
        Assert.That(outcome.HypervisorConsole, Is.EqualTo(outcome.ConsoleLog), "console_io and the debug port disagree");
        Assert.That(IsOrderedSubsequence(Lines(outcome.PvConsole), Lines(outcome.ConsoleLog)), Is.True,
            $"the PV console ring has lines the debug port does not, or in another order:\n{outcome.PvConsole}");
        Assert.That(Lines(outcome.PvConsole).LastOrDefault(), Is.EqualTo(Lines(outcome.ConsoleLog).LastOrDefault()), "the ring lacks the result line");
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

    private static string[] Lines(string log) => log.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);

    private static bool IsOrderedSubsequence(string[] part, string[] whole)
    {
        int j = 0;
        foreach (string line in part)
        {
            while (j < whole.Length && whole[j] != line)
                j++;
            if (j++ == whole.Length)
                return false;
        }

        return true;
    }

    [Test]
    public void CatalogHasTheWalkingSkeletonTests()
    {
        var ids = Catalog.AllInstances().Select(i => i.Id).ToList();
        Assert.That(ids, Does.Contain("test-hvm32-example").And.Contain("test-hvm32-selftest"));
    }
}
