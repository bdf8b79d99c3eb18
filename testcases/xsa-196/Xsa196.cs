using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa196;

/// <summary>
/// XTF's xsa-196: Advisory XSA-196 (Xen change 36ebf14ebe). The emulator sized IDT entries by the
/// width of the code being emulated instead of by IA-32e mode, so 16- or 32-bit code under a
/// 64-bit kernel made it look at the wrong IDT entry for the DPL and presence checks of a
/// software interrupt. <c>int $8</c> from compatibility-mode user code reads, at 8 * 8, the low
/// half of the #OF gate (DPL 3, as usual) instead of the #DF gate (DPL 0): the check passes,
/// and the injected interrupt, which hardware delivers without a DPL check, reaches the #DF
/// handler, reserved for a critical malfunction. In IA-32e mode IDT gates are 16 bytes whatever
/// the code's width (SDM vol. 3, 6.14.1), and <c>int $8</c> at CPL 3 through the DPL 0 gate is
/// #GP(IDT[8]) (SDM vol. 3, 6.12.1.1). The bug was on AMD hardware without NRIP support only;
/// the test forces the instruction through the emulator with the forced emulation prefix.
/// An emulator that makes no gate-DPL check at all (XSA-106, CVE-2014-7156) lets the same
/// <c>int $8</c> reach #DF, so the test guards XSA-106 as well.
/// </summary>
[XtfTest("xsa-196", Category.Xsa, Environments.Hvm64, Title = "XSA-196 PoC", Guards = ["xsa-196", "xsa-106"])]
public sealed class Xsa196 : TestCase
{
    private const ushort UserCs32 = (HvmLayout.GdteCs32Dpl3 << 3) | 3;

    protected override bool NeedsFep => true;

    public override void Main()
    {
        // The preconditions of the proof of concept, which are very common.
        if (IdtDpl(X86Vector.OF) != 3 || IdtDpl(X86Vector.DF) != 0)
            Panic("ASSERT(idt[X86_EXC_OF].dpl == 3 && idt[X86_EXC_DF].dpl == 0) failed\n");

        // A #DF handler that fakes up "return EXINFO_SYM(DF, 0)" to the interrupted code.
        ulong doubleFault = AssembleKernelCode(a =>
        {
            a.mov(eax, ExInfo.Fault(X86Vector.DF).Raw);
            a.iretq();
        });
        SetIdtEntry((int)X86Vector.DF, doubleFault, dpl: 0);

        var fault = CompatUserspace();
        if (fault == ExInfo.Fault(X86Vector.GP, SelectorErrorCode.Idt(X86Vector.DF)))
            Success("Success: #DF DPL was checked correctly\n");
        else if (fault == ExInfo.Fault(X86Vector.DF))
            Failure("Fail: Userspace managed to invoke #DF\n");
        else
            Error($"Error: Unexpected fault 0x{fault.Raw:x}\n");
    }

    /// <summary>The DPL of an IDT gate, read by the kernel (bits 5-6 of its access byte).</summary>
    private uint IdtDpl(X86Vector vector)
    {
        uint access = (uint)HvmLayout.Idt + ((uint)vector * 16) + 5;
        return (ExecDetailed(a => a.movzx(eax, __byte_ptr[access])).Eax >> 5) & 3;
    }

    /// <summary>
    /// At CPL 3 in 64-bit mode: a far return into the 32-bit user code segment (L = 0, D = 1:
    /// compatibility mode, SDM vol. 3, 5.2.1), where <c>int $8</c> runs behind the forced
    /// emulation prefix with the fault recorded in EAX (ex_record_fault_eax), then a far return
    /// to the 64-bit user code segment. Returns EAX: the exinfo of what <c>int $8</c> did.
    /// </summary>
    private ExInfo CompatUserspace()
    {
        // Position-independent 32-bit code: EBX = the address of its POP; the INT is after the
        // one-byte POP and the prefix. The way back pushes __USER_CS and the address after RETF.
        var compat = X86Assembly.Assemble(32, 0, a =>
        {
            var here = a.CreateLabel();
            a.call(here);
            a.Label(ref here);
            a.pop(ebx);
            a.Fep();
            a.@int((int)X86Vector.DF);
            a.push(HvmLayout.UserCs64);
            var back = a.CreateLabel();
            a.call(back);
            a.Label(ref back);
            a.add(__dword_ptr[esp], 5); // 83 04 24 05 (4 bytes), then RETF (1 byte)
            a.retf();
        });
        const uint intOffset = 1 + 5;

        var regs = ExecUserDetailed(a =>
        {
            var start32 = a.CreateLabel();
            a.xor(eax, eax);
            a.push(UserCs32);
            a.lea(rcx, __[start32]);
            a.push(rcx);
            a.AddInstruction(Instruction.Create(Code.Retfq)); // lretq
            a.Label(ref start32);

            // The 32-bit code, one piece per instruction, so each has an exception-table entry.
            var offsets = compat.InstructionOffsets;
            for (int i = 0; i < offsets.Count; i++)
            {
                int end = i + 1 < offsets.Count ? (int)offsets[i + 1] : compat.Bytes.Length;
                a.db(compat.Bytes[(int)offsets[i]..end]);
            }
        }, handler: (frame, entry) =>
        {
            // ex_record_fault_eax, with the fixup after the INT (CD 08).
            if (frame.Rip != (frame.Rbx & 0xFFFFFFFF) + intOffset)
                return false;
            frame.Rax = frame.ExInfo.Raw;
            frame.Rip += 2;
            return true;
        });
        return new ExInfo(regs.Eax);
    }
}
