using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// Exception and software-interrupt delivery to a PV guest kernel through its trap table, as
/// Xen does it (xen/arch/x86/traps.c do_general_protection, pv/traps.c pv_inject_event), and the
/// round trip to user mode and back through HYPERVISOR_iret and X86_VEC_RET2KERN.
/// </summary>
public sealed class PvTrapDeliveryTests
{
    private static readonly Environments[] Pv = [Environments.Pv64, Environments.Pv32Pae];

    private sealed class Deliveries : TestCase
    {
        public override void Main()
        {
            Printk($"ud2 {Exec(a => a.ud2())}\n");
            Printk($"int3 {Exec(a => a.int3())}\n");
            Printk($"null {Exec(a => a.mov(eax, __dword_ptr[0]))}\n");
            Printk($"int30 {Exec(a => a.@int(0x30))}\n");
            Printk($"cli {Exec(a => a.cli())}\n");
            Printk($"user {ExecUser((ulong p) => p + 1, 41)}\n");
            Printk($"userud2 {ExecUser(a => a.ud2())}\n");
            Printk($"userint30 {ExecUser(a => a.@int(0x30))}\n");
            Success();
        }
    }

    private static IReadOnlyList<string> Lines(Environments env)
    {
        var o = GuestHarness.Run<Deliveries>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        return o.Lines;
    }

    [TestCaseSource(nameof(Pv))]
    public void ExceptionsReachTheKernelsTrapTableHandlers(Environments env) =>
        Assert.That(Lines(env), Does.Contain("ud2 #UD").And.Contain("int3 #BP").And.Contain("userud2 #UD"));

    /// <summary>
    /// pv_inject_event: a PV kernel's own #PF has the U bit clear, even pv64's, which runs in ring 3.
    /// A read of the unmapped page 0 by the kernel: P, W/R, U/S, I/D all clear, error code 0,
    /// which XTF's decode.c prints as <c>#PF[-d-sr-]</c>.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void KernelPageFaultReportsSupervisorAccess(Environments env) =>
        Assert.That(Lines(env), Does.Contain("null #PF[-d-sr-]"));

    /// <summary>
    /// Xen's IDT gate for vector 0x30 has DPL 0, so INT $0x30 is #GP((0x30 &lt;&lt; 3) | 2); with no
    /// trap-table entry permit_softint refuses it and the #GP goes to the guest with that error code.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void SoftwareInterruptWithoutAHandlerIsGpWithTheIdtErrorCode(Environments env) =>
        Assert.That(Lines(env), Does.Contain("int30 #GP[IDT[48]]").And.Contain("userint30 #GP[IDT[48]]"));

    /// <summary>emul-priv-op.c: CLI from the kernel with virtual IOPL 0 is not iopl_ok, so #GP(0) is passed on.</summary>
    [TestCaseSource(nameof(Pv))]
    public void CliAtVirtualIoplZeroIsGp0(Environments env) =>
        Assert.That(Lines(env), Does.Contain("cli #GP[0000]"));

    /// <summary>exec_user: HYPERVISOR_iret to user mode, the function runs, int $0x20 (DPL 3 in the trap table) returns its result.</summary>
    [TestCaseSource(nameof(Pv))]
    public void UserFunctionRunsAndReturnsThroughRet2Kern(Environments env) =>
        Assert.That(Lines(env), Does.Contain("user 42"));
}
