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
/// guarding XSA-105. LGDT and LIDT reload the tables' current values and LMSW the current MSW, so
/// an emulator that wrongly lets them through changes nothing and the test can report it. HLT
/// goes last and only while nothing has failed: a HLT let through at CPL 3 stops the vCPU, and
/// nothing in this machine ever wakes it, so the test could report nothing at all.
/// </summary>
[XtfTest("xsa-105", Category.Xsa, Environments.Hvm, Title = "XSA-105 PoC", Guards = ["xsa-105"])]
public sealed class Xsa105 : TestCase
{
    /// <summary>Pseudo-descriptors for LGDT (at +0) and LIDT (at +16), on the user data page CPL 3 may read.</summary>
    private const uint GdtOperand = (uint)HvmLayout.UserData, IdtOperand = GdtOperand + 16;

    private bool failed;

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
        if (!failed)
            Probe("hlt", a => a.hlt);

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
            Fail($"Fail: {name} at CPL 3: expected {expected}, got {native}\n");
        if (!XtfHasFep)
            return;
        var emulated = ExecUser(a =>
        {
            var insn = setup(a);
            a.Fep();
            insn();
        });
        if (emulated != expected)
            Fail($"Fail: emulated {name} at CPL 3: expected {expected}, got {emulated} - vulnerable to XSA-105\n");
    }

    private void Fail(string message)
    {
        failed = true;
        Failure(message);
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
