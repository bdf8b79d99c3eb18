using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.MemopSeg;

/// <summary>
/// Memory operand and segment emulation. Every memory operand goes through a segment: SS when the
/// base register is (E/R)SP or (E/R)BP, DS otherwise, unless a segment override prefix names
/// another; in 64-bit mode the ES, CS, SS and DS overrides are ignored (SDM vol. 1, 3.7.4 and
/// 3.3.7.1). A segmentation fault through SS is #SS(0), through any other segment #GP(0), so the
/// fault tells which segment was used. At CPL 3, <c>movb $0</c> (64-bit: <c>movabs %al</c> for the
/// absolute form) is made to fault on segmentation with no override and with each override, for an
/// absolute operand and for each base register, natively and through the forced emulation prefix.
/// 32-bit: user code and data segments with a 2 GiB limit and an address of 3 GiB (a write through
/// the code segment faults on its type). 64-bit: the non-canonical address 0x8000000040000000.
/// </summary>
[XtfTest("memop-seg", Category.Functional, Environments.Hvm32Pae | Environments.Hvm64 | Environments.Pv, Title = "Memory operand and segment emulation tests")]
public sealed class MemopSeg : TestCase
{
    private const int UserCodeEntry = HvmLayout.GdteAvail0, UserDataEntry = HvmLayout.GdteAvail0 + 1;
    private const ushort UserCode = (UserCodeEntry << 3) | 3, UserData = (UserDataEntry << 3) | 3;

    /// <summary>No override, then ES, CS, SS, DS, FS, GS, in XTF's order.</summary>
    private static readonly Register[] Overrides = [Register.None, Register.ES, Register.CS, Register.SS, Register.DS, Register.FS, Register.GS];

    private static readonly AssemblerRegister32[] Regs32 = [eax, ecx, edx, ebx, esp, ebp, esi, edi];

    private static readonly AssemblerRegister64[] Regs64 = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];

    public override void Main()
    {
        // Top bit set + 1 GiB: non-canonical in 64-bit mode; 3 GiB, beyond a 2 GiB limit, in 32-bit.
        ulong addr = Bitness == 64 ? 0x8000000040000000ul : 0xC0000000ul;
        if (Bitness == 32)
            UseTwoGigabyteSegments();

        foreach (var seg in Overrides)
        {
            Check(seg, null, addr);
            int count = Bitness == 64 ? Regs64.Length : Regs32.Length;
            for (int r = 0; r < count; r++)
                Check(seg, r, addr);
        }

        if (Bitness == 32)
            RestoreFlatSegments();
        Success();
    }

    /// <summary>
    /// XTF's 32-bit setup: user CS and SS (exec_user_cs, exec_user_ss) with a 2 GiB limit. The
    /// data segment registers get the same 2 GiB data segment for the whole test, so every one of
    /// them faults on the limit at 3 GiB.
    /// </summary>
    private void UseTwoGigabyteSegments()
    {
        const uint limit = 0x7FFFF; // pages: 2 GiB - 1
        SetGdtEntry(UserCodeEntry, SegmentDescriptor.CodeOrData(0xB, 0, limit, dpl: 3, granular: true));
        SetGdtEntry(UserDataEntry, SegmentDescriptor.CodeOrData(0x3, 0, limit, dpl: 3, granular: true));
        ExecUserCs = UserCode;
        ExecUserSs = UserData;
        LoadDataSegments(UserData);
    }

    private void RestoreFlatSegments()
    {
        LoadDataSegments(Runtime.UserDs);
        ExecUserCs = 0;
        ExecUserSs = Runtime.UserDs;
    }

    private void LoadDataSegments(ushort selector) => Exec(a =>
    {
        a.mov(eax, selector);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(fs, ax);
        a.mov(gs, ax);
    });

    /// <summary>The segment that must fault: the override (ignored for ES, CS, SS, DS in 64-bit mode), else by the base.</summary>
    private ExInfo Expected(Register seg, int? reg)
    {
        bool stackBase = reg is X86Cpu.RSP or X86Cpu.RBP;
        bool overrideApplies = seg != Register.None && (Bitness == 32 || seg is Register.FS or Register.GS);
        bool ss = overrideApplies ? seg == Register.SS : stackBase;
        return ExInfo.Fault(ss ? X86Vector.SS : X86Vector.GP, 0);
    }

    private static string Name(Register seg, int? reg, int bitness)
    {
        string operand = reg is { } r
            ? $"(%{(bitness == 64 ? Regs64[r].Value : Regs32[r].Value).ToString().ToLowerInvariant()})"
            : "abs";
        return seg == Register.None ? operand : $"%{seg.ToString().ToLowerInvariant()}:{operand}";
    }

    private void Check(Register seg, int? reg, ulong addr)
    {
        var expected = Expected(seg, reg);
        string name = Name(seg, reg, Bitness);
        var got = ExecUser(a => Access(a, seg, reg, addr, fep: false));
        if (got != expected)
            Failure($"Fail: Testing '{name}'\n  expected {expected}, got {got}\n");

        if (!XtfHasFep)
            return;

        // As XTF, the emulated run uses addr | 1 for the register forms.
        got = ExecUser(a => Access(a, seg, reg, addr | 1, fep: true));
        if (got != expected)
            Failure($"Fail: Testing emulated '{name}'\n  expected {expected}, got {got}\n");
    }

    /// <summary>One access: <c>movb $0, seg:(reg)</c> with reg = addr, or the absolute form.</summary>
    private void Access(Assembler a, Register seg, int? reg, ulong addr, bool fep)
    {
        if (reg is { } r)
        {
            if (Bitness == 64)
                a.mov(Regs64[r], addr);
            else
                a.mov(Regs32[r], (uint)addr);
        }

        if (fep)
            a.Fep();
        if (Bitness == 64)
        {
            if (reg is { } r64)
                a.mov(WithSegment(__byte_ptr, seg)[Regs64[r64]], 0);
            else
                a.mov(WithSegment(__byte_ptr, seg)[addr], al);
        }
        else if (reg is { } r32)
        {
            a.mov(WithSegment(__byte_ptr, seg)[Regs32[r32]], 0);
        }
        else
        {
            a.mov(WithSegment(__byte_ptr, seg)[(uint)addr], 0);
        }
    }

    private static AssemblerMemoryOperandFactory WithSegment(AssemblerMemoryOperandFactory f, Register seg) => seg switch
    {
        Register.ES => f.es,
        Register.CS => f.cs,
        Register.SS => f.ss,
        Register.DS => f.ds,
        Register.FS => f.fs,
        Register.GS => f.gs,
        _ => f,
    };
}
