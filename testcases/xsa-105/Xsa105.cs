using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa105;

/// <summary>
/// XSA-105: "Missing privilege level checks in x86 HLT, LGDT, LIDT, and LMSW emulation". No
/// upstream test exists; this checks that LGDT, LIDT, LMSW and HLT at CPL 3 raise #GP(0) (SDM
/// vol. 3, 5.9: privileged instructions), natively and through the hypervisor's emulator (FEP),
/// guarding XSA-105 (Xen 0e442727ce added <c>generate_exception_if(!mode_ring0(), EXC_GP, 0)</c>
/// to each). LGDT and LIDT reload the tables' current values and LMSW the current MSW, so an
/// emulator that wrongly lets them through changes nothing and the test can report it. HLT runs
/// with EFLAGS.TF set: the #GP(0) fault takes precedence over the single-step trap (SDM vol. 3,
/// 6.9), while the emulator before the fix completed the HLT, injected the single-step #DB, and
/// returned X86EMUL_EXCEPTION, so hvm_emulate_one never reached hvm_hlt: the vCPU takes #DB past
/// the HLT instead of halting (a HLT let through without TF would stop the vCPU for good, and the
/// test could report nothing).
/// </summary>
[XtfTest("xsa-105", Category.Xsa, Environments.Hvm, Title = "XSA-105 PoC", Guards = ["xsa-105"])]
public sealed class Xsa105 : TestCase
{
    /// <summary>Pseudo-descriptors for LGDT (at +0) and LIDT (at +16), on the user data page CPL 3 may read.</summary>
    private const uint GdtOperand = (uint)HvmLayout.UserData, IdtOperand = GdtOperand + 16;

    public override void Main()
    {
        if (!XtfHasFep)
            Skip("FEP support not detected - some tests will be skipped\n");

        var (gdtLimit, gdtBase) = TableRegister(a => a.sgdt(__[(uint)HvmLayout.Scratch]));
        var (idtLimit, idtBase) = TableRegister(a => a.sidt(__[(uint)HvmLayout.Scratch]));
        uint msw = ExecDetailed(a => a.smsw(eax)).Eax & 0xFFFF;

        Probe("lgdt", a =>
        {
            WritePseudoDescriptor(a, GdtOperand, gdtLimit, gdtBase);
            return () => a.lgdt(__[GdtOperand]);
        });
        Probe("lidt", a =>
        {
            WritePseudoDescriptor(a, IdtOperand, idtLimit, idtBase);
            return () => a.lidt(__[IdtOperand]);
        });
        Probe("lmsw", a =>
        {
            a.mov(eax, msw);
            return () => a.lmsw(ax);
        });
        ProbeHalt();

        Success();
    }

    /// <summary>
    /// Runs the instruction <paramref name="setup"/> returns at CPL 3, natively and then through
    /// FEP (when available), after the setup it emits; each must raise #GP(0).
    /// </summary>
    private void Probe(string name, Func<Assembler, Action> setup)
    {
        var expected = ExInfo.Fault(X86Vector.GP, 0);
        var native = ExecUser(a => setup(a)());
        if (native != expected)
            Failure($"Fail: {name} at CPL 3: expected {expected}, got {native}\n");
        if (!XtfHasFep)
            return;
        var emulated = ExecUser(a =>
        {
            var insn = setup(a);
            a.Fep();
            insn();
        });
        if (emulated != expected)
            Failure($"Fail: emulated {name} at CPL 3: expected {expected}, got {emulated} - vulnerable to XSA-105\n");
    }

    /// <summary>HLT at CPL 3 with TF set, natively and through FEP: #GP(0), no single-step trap.</summary>
    private void ProbeHalt()
    {
        var expected = ExInfo.Fault(X86Vector.GP, 0);
        var native = SingleSteppedHalt(fep: false);
        if (native != expected)
            Failure($"Fail: hlt at CPL 3: expected {expected}, got {native}\n");
        if (!XtfHasFep)
            return;
        var emulated = SingleSteppedHalt(fep: true);
        if (emulated != expected)
            Failure($"Fail: emulated hlt at CPL 3: expected {expected}, got {emulated} - vulnerable to XSA-105\n");
    }

    /// <summary>
    /// POPF sets TF (its own trap comes after the next instruction), then HLT; the handler
    /// records the first exception, clears TF in the frame and resumes at the end of the code.
    /// </summary>
    private ExInfo SingleSteppedHalt(bool fep)
    {
        var got = ExInfo.None;
        ExecUserDetailed(a =>
        {
            if (Bitness == 64)
            {
                a.pushfq();
                a.or(__dword_ptr[rsp], (int)RFlags.TF);
                a.popfq();
            }
            else
            {
                a.pushfd();
                a.or(__dword_ptr[esp], (int)RFlags.TF);
                a.popfd();
            }

            if (fep)
                a.Fep();
            a.hlt();
            a.nop();
        }, handler: (regs, entry) =>
        {
            if (got == ExInfo.None)
                got = ExInfo.Fault(regs.Vector, ExInfo.XtfHasErrorCode(regs.Vector) ? regs.ErrorCode : 0);
            regs.Rflags &= ~(ulong)RFlags.TF;
            regs.Rip = entry.Fixup;
            return true;
        });
        return got;
    }

    /// <summary>SGDT/SIDT at CPL 0 into scratch memory; returns the limit and the low 32 bits of the base.</summary>
    private (uint Limit, uint Base) TableRegister(Action<Assembler> store)
    {
        var r = ExecDetailed(a =>
        {
            store(a);
            a.movzx(ebx, __word_ptr[(uint)HvmLayout.Scratch]);
            a.mov(eax, __dword_ptr[(uint)HvmLayout.Scratch + 2]);
        });
        return (r.Ebx, r.Eax);
    }

    /// <summary>
    /// Writes limit and base (zero-extended to 8 bytes in 64-bit code: the tables lie below 4 GiB)
    /// to <paramref name="at"/>, as user-mode stores.
    /// </summary>
    private void WritePseudoDescriptor(Assembler a, uint at, uint limit, uint @base)
    {
        a.mov(__word_ptr[at], (int)limit);
        a.mov(__dword_ptr[at + 2], (int)@base);
        if (Bitness == 64)
            a.mov(__dword_ptr[at + 6], 0);
    }
}
