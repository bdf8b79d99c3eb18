using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// The catalog's pv-iopl (XTF's tests/pv-iopl) and popf-iopl beyond "SUCCESS": the log XTF
/// prints, the variation read from start_info's command line, and the environments.
/// </summary>
public sealed class IoplTestCaseTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.PvIopl.PvIopl).Assembly]);

    private static InstanceOutcome Run(string name, Environments env, string? variation)
    {
        var test = Catalog.Find(name) ?? throw new AssertionException($"{name} is not in the catalog");
        return new TestEngine().Run(new TestInstance(test, env, variation), new RunSettings { InstructionBudget = 20_000_000 });
    }

    /// <summary>
    /// XTF's run_test prints the interface, then "  vIOPL n" for 0, 1 and 3 (2 is skipped), and
    /// nothing else when every expectation holds; then xtf_success.
    /// </summary>
    [TestCase(Environments.Pv64, "hypercall", "Test: PHYSDEVOP_set_iopl")]
    [TestCase(Environments.Pv32Pae, "hypercall", "Test: PHYSDEVOP_set_iopl")]
    [TestCase(Environments.Pv64, "vmassist", "Test: VMASST_TYPE_architectural_iopl")]
    [TestCase(Environments.Pv32Pae, "vmassist", "Test: VMASST_TYPE_architectural_iopl")]
    public void PvIoplPrintsXtfsLog(Environments env, string variation, string header)
    {
        var o = Run("pv-iopl", env, variation);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Lines.SkipWhile(l => l != "PV IOPL emulation").Skip(1),
            Is.EqualTo(new[] { header, "  vIOPL 0", "  vIOPL 1", "  vIOPL 3", "Test result: SUCCESS" }));
    }

    /// <summary>XTF: a command line naming neither interface is xtf_error("Unknown test to run").</summary>
    [Test]
    public void PvIoplWithAnUnknownCommandLineIsAnError()
    {
        var o = Run("pv-iopl", Environments.Pv64, "bogus");
        Assert.That(o.Result, Is.EqualTo(TestResult.Error), o.ConsoleLog);
        Assert.That(o.Lines, Does.Contain("Unknown test to run"));
    }

    /// <summary>pv-iopl runs in the PV environments only, with XTF's two variations; popf-iopl in all six.</summary>
    [Test]
    public void InstancesCoverTheirEnvironments()
    {
        var ids = Catalog.AllInstances().Select(i => i.Id).ToList();
        Assert.That(ids.Where(i => i.Contains("-pv-iopl", StringComparison.Ordinal)), Is.EquivalentTo(new[]
        {
            "test-pv32pae-pv-iopl~hypercall", "test-pv32pae-pv-iopl~vmassist", "test-pv64-pv-iopl~hypercall", "test-pv64-pv-iopl~vmassist",
        }));
        Assert.That(ids.Count(i => i.EndsWith("-popf-iopl", StringComparison.Ordinal)), Is.EqualTo(6));
    }
}
