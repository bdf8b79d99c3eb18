using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.PvIopl;

/// <summary>
/// XTF's tests/pv-iopl: Xen's virtual IOPL for PV guests. Xen cannot run a PV guest with a real
/// IOPL other than 0 (the guest could play with the real interrupt flag), so it shadows the
/// guest's IOPL and consults it when an I/O-related #GP(0) reaches it: it completes the access
/// for the guest (emul-priv-op.c iopl_ok) or bounces the #GP back to the guest kernel.
/// <c>cli</c> and <c>outb %al, $0x80</c> run in kernel and user context at vIOPL 0, 1 and 3
/// (2 is not interesting), each expecting exactly one #GP[0000] or no exception. The variation
/// (start_info's command line, as xl's cmdline=) picks how the vIOPL is set:
/// <list type="bullet">
/// <item>hypercall: PHYSDEVOP_set_iopl. The kernel counts as CPL 1 (pv64's too, which runs in
/// ring 3), user mode as CPL 3.</item>
/// <item>vmassist: VMASST_TYPE_architectural_iopl (Xen 4.7, after XSA-171). The kernel counts as
/// CPL 0 and the vIOPL is taken from every HYPERVISOR_iret frame, so an iret to user mode with
/// that IOPL sets it.</item>
/// </list>
/// </summary>
[XtfTest("pv-iopl", Category.Functional, Environments.Pv, Title = "PV IOPL emulation", Variations = ["hypercall", "vmassist"])]
public sealed class PvIopl : TestCase
{
    private static readonly (string Name, Action<Assembler> Stub)[] InsnSequence =
    [
        ("cli", a => a.cli()),
        ("outb", a =>
        {
            a.mov(eax, 0);
            a.@out(0x80, al);
        }),
    ];

    private (string Insn, bool User, bool Fault) expectation;

    public override void Main()
    {
        string cmdline = PvCommandLine();
        Func<bool, uint, bool> shouldFault;
        Action<uint> setIopl;
        if (cmdline == "hypercall")
        {
            Printk("Test: PHYSDEVOP_set_iopl\n");
            setIopl = iopl => HypercallPhysdevSetIopl(iopl);
            shouldFault = HypercallShouldFault;
        }
        else if (cmdline == "vmassist")
        {
            if (HypercallVmAssist(VmAssistCmdEnable, VmAssistTypeArchitecturalIopl) != 0)
            {
                Skip("VMASST_TYPE_architectural_iopl not detected\n");
                return;
            }

            Printk("Test: VMASST_TYPE_architectural_iopl\n");

            // All that needs to happen is an iret hypercall with the IOPL in its frame: exec_user's
            // iret, with nothing interesting run in user context.
            setIopl = iopl => ExecUserWithIopl(_ => { }, iopl);
            shouldFault = VmAssistShouldFault;
        }
        else
        {
            Error("Unknown test to run\n");
            return;
        }

        RunTest(setIopl, shouldFault);
        Success();
    }

    private void RunTest(Action<uint> setIopl, Func<bool, uint, bool> shouldFault)
    {
        ExlogStart();
        for (uint iopl = 0; iopl <= 3; iopl++)
        {
            // vIOPL 2 is not interesting to test.
            if (iopl == 2)
                continue;

            Printk($"  vIOPL {iopl}\n");
            setIopl(iopl);
            foreach (var (name, stub) in InsnSequence)
            {
                Expect(name, user: false, shouldFault(false, iopl));
                _ = Exec(stub);
                Check();

                Expect(name, user: true, shouldFault(true, iopl));
                ExecUserWithIopl(stub, iopl);
                Check();
            }
        }

        ExlogStop();
    }

    /// <summary>PHYSDEVOP_set_iopl: the kernel has vCPL 1, user mode vCPL 3.</summary>
    private bool HypercallShouldFault(bool user, uint iopl) => iopl switch
    {
        0 => true,
        1 or 2 => user,
        3 => false,
        _ => throw new ArgumentOutOfRangeException(nameof(iopl), iopl, "Bad vIOPL"),
    };

    /// <summary>architectural_iopl: the kernel has vCPL 0 and never faults; user mode faults unless the vIOPL is 3.</summary>
    private static bool VmAssistShouldFault(bool user, uint iopl) => user && iopl != 3;

    /// <summary>
    /// exec_user_with_iopl (tests/pv-iopl/asm.S): exec_user with IF and IOPL cleared from the
    /// kernel's EFLAGS ("PV guests see the real interrupt flag. Clobber it.") and
    /// <paramref name="iopl"/> folded into the iret frame.
    /// </summary>
    private void ExecUserWithIopl(Action<Assembler> stub, uint iopl)
    {
        ExecUserEflagsAndMask = ~(ulong)(RFlags.IOPL | RFlags.IF);
        ExecUserEflagsOrMask = (ulong)iopl << RFlags.IoplShift;
        try
        {
            _ = ExecUser(stub);
        }
        finally
        {
            ExecUserEflagsAndMask = ~0ul;
            ExecUserEflagsOrMask = 0;
        }
    }

    /// <summary>Latch details of the stub under test.</summary>
    private void Expect(string insn, bool user, bool fault)
    {
        expectation = (insn, user, fault);
        ExlogReset();
    }

    /// <summary>Check the exception log against the expected details.</summary>
    private void Check()
    {
        int entries = ExlogEntries;
        string mode = expectation.User ? "user" : "kernel";
        if (expectation.Fault)
        {
            if (entries != 1)
            {
                Failure($"Fail ({mode} {expectation.Insn}): Expected 1 exception, got {entries}\n");
                ExlogDump();
                return;
            }

            if (ExlogEntry(0) is not { } entry)
            {
                Failure($"Fail ({mode} {expectation.Insn}): Unable to retrieve exception log\n");
                return;
            }

            if (entry.Vector != (int)X86Vector.GP || entry.ErrorCode != 0)
            {
                Failure($"Fail ({mode} {expectation.Insn}): Expected #GP[0], got {entry.Vector,2}[{entry.ErrorCode:x4}]\n");
                return;
            }
        }
        else if (entries != 0)
        {
            Failure($"Fail ({mode} {expectation.Insn}): Expected no exceptions, got {entries}\n");
            ExlogDump();
        }
    }
}
