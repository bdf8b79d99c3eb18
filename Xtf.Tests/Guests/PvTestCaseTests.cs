using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// The PV test cases' own reports, beyond the catalog run's SUCCESS: selftest's PV parts,
/// mmu-batch's hypercall counts (a batch is one trap into the hypervisor, whatever its length),
/// and ring-compression's individual checks.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class PvTestCaseTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.Example.Example).Assembly]);

    private static InstanceOutcome Run(string name, Environments env)
    {
        var instance = Catalog.AllInstances().Single(i => i.Test.Name == name && i.Environment == env);
        return new TestEngine().Run(instance, new RunSettings { InstructionBudget = 20_000_000 });
    }

    [TestCase(Environments.Pv32Pae)]
    [TestCase(Environments.Pv64)]
    public void SelftestRunsEverySubtestInPv(Environments env)
    {
        var o = Run("selftest", env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        // tests/selftest/main.c test_main at 453490d, in order (exlog was dropped upstream in 216cfe0).
        string[] subtests = ["Exception Table", "Userspace execution", "NULL unmapped",
            "Unhandled Exception Hook", "Exception Table Handler", "Custom IDT entry",
            "Driver basic initialisation", "vsnprintf() with CRLF expansion", "Xenstore read"];
        Assert.That(o.Lines.Where(l => l.StartsWith("Test: ", StringComparison.Ordinal)).Select(l => l[6..]), Is.EqualTo(subtests));
        Assert.That(o.ConsoleLog, Does.Not.Contain("Fail"));
    }

    /// <summary>
    /// One mmu_update and one multicall are one hypercall each for 2,000 mappings; one
    /// update_va_mapping per page is 2,000; the hypervisor's count equals the guest's.
    /// </summary>
    [TestCase(Environments.Pv32Pae, "00800000", "01000000", "01800000")]
    [TestCase(Environments.Pv64, "0000000000800000", "0000000001000000", "0000000001800000")]
    public void MmuBatchReportsHypercallCounts(Environments env, string a, string b, string c)
    {
        var o = Run("mmu-batch", env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        Assert.That(o.Lines, Does.Contain($"mmu_update: 2000 mappings at {a}: 1 hypercall(s) issued, 1 counted by the hypervisor"));
        Assert.That(o.Lines, Does.Contain($"multicall: 2000 mappings at {b}: 1 hypercall(s) issued, 1 counted by the hypervisor"));
        Assert.That(o.Lines, Does.Contain($"update_va_mapping: 2000 mappings at {c}: 2000 hypercall(s) issued, 2000 counted by the hypervisor"));
    }

    /// <summary>Every ring-compression check reports ok, none FAIL, and all of them ran.</summary>
    [Test]
    public void RingCompressionReportsEveryCheck()
    {
        var o = Run("ring-compression", Environments.Pv32Pae);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        Assert.That(o.Lines.Where(l => l.StartsWith("FAIL: ", StringComparison.Ordinal)), Is.Empty);
        string[] expected =
        [
            "ok: CS is FLAT_RING1_CS 0xe019, RPL 1",
            "ok: SS is FLAT_RING1_DS 0xe021",
            "ok: LAR of Xen's ring-0 CS 0xe008 at CPL 1 fails (ZF = 0, destination unchanged)",
            "ok: far CALL 0xe008:0 (Xen's ring-0 code) at CPL 1 is #GP[GDT[7169]]",
            "ok: PUSHF shows IOPL 0 and IF 1",
            "ok: POPF at CPL 1 changes neither IOPL nor IF, without a fault",
            "ok: CLI at CPL 1 with virtual IOPL 0 is #GP[0000]",
            "ok: a write to the read-only M2P at 0xf5800000 is #PF[-d-sWP]",
            "ok: a read of 0xfffff000 in Xen's L2 slots, beyond the M2P is #PF[-d-sr-]",
            "ok: mmu_update clearing Xen's L2 slot 428 returns -1",
            "ok: mmu_update clearing L3 slot 3 returns -22",
            "ok: the L1 table's mapping stays read-only",
        ];
        Assert.That(o.Lines, Is.SupersetOf(expected));
        Assert.That(o.Lines.Count(l => l.StartsWith("ok: ", StringComparison.Ordinal)), Is.EqualTo(18), o.ConsoleLog);
        Assert.That(o.Lines.Count(l => l.StartsWith("ok: update_va_mapping", StringComparison.Ordinal) && l.EndsWith("returns -16", StringComparison.Ordinal)), Is.EqualTo(2));
    }
}
