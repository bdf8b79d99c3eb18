using Iced.Intel;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu;

/// <summary>DR6 and DR7 bits (SDM vol. 3, 18.2.3 and 18.2.4).</summary>
public static class DebugRegisters
{
    /// <summary>DR6.B0-B3: breakpoint condition n was met.</summary>
    public const uint B0 = 1u << 0, B1 = 1u << 1, B2 = 1u << 2, B3 = 1u << 3;

    /// <summary>DR6.BD: the next instruction accesses a debug register while DR7.GD is set.</summary>
    public const uint BD = 1u << 13;

    /// <summary>DR6.BS: single step (EFLAGS.TF).</summary>
    public const uint BS = 1u << 14;

    /// <summary>DR6.BT: task switch to a TSS with the T flag set.</summary>
    public const uint BT = 1u << 15;

    /// <summary>
    /// DR6 bits that read as 1: 4-11 (11 is BLD, reads 1 without bus-lock detection) and 16-31 (16 is
    /// RTM, reads 1 without RTM). Bit 12 reads 0. Value at reset: 0xFFFF0FF0.
    /// </summary>
    public const uint Dr6Fixed1 = 0xFFFF0FF0;

    /// <summary>DR6 bits software and the processor can change: B0-B3, BD, BS, BT.</summary>
    public const uint Dr6Writable = 0xE00F;

    /// <summary>DR7.GD: general detect, MOV DR raises #DB(BD).</summary>
    public const uint GD = 1u << 13;

    /// <summary>DR7 bit 10 reads as 1; bits 11 (RTM), 12, 14 and 15 read as 0. Value at reset: 0x400.</summary>
    public const uint Dr7Fixed1 = 1u << 10;

    /// <summary>DR7 bits a MOV to DR7 keeps: L0-G3 and LE/GE (bits 0-9), GD (bit 13), R/W and LEN (bits 16-31).</summary>
    public const uint Dr7Writable = 0xFFFF23FF;
}

/// <summary>
/// IA32_DEBUGCTL (MSR 1D9H) bits (SDM vol. 3, 18.4.1, figure "IA32_DEBUGCTL MSR for Processors
/// based on Intel Core microarchitecture"; Xen: xen/arch/x86/include/asm/msr-index.h).
/// </summary>
public static class DebugCtl
{
    /// <summary>MSR index of IA32_DEBUGCTL.</summary>
    public const uint Msr = 0x1D9;

    /// <summary>Bit 0, LBR: record last branches, interrupts and exceptions in the LBR stack.</summary>
    public const ulong Lbr = 1ul << 0;

    /// <summary>Bit 1, BTF: EFLAGS.TF single-steps on taken branches instead of on instructions.</summary>
    public const ulong Btf = 1ul << 1;

    /// <summary>Bit 6, TR: branch trace messages.</summary>
    public const ulong Tr = 1ul << 6;

    /// <summary>Bit 7, BTS: branch trace store.</summary>
    public const ulong Bts = 1ul << 7;

    /// <summary>Bit 8, BTINT: branch trace interrupt.</summary>
    public const ulong Btint = 1ul << 8;

    /// <summary>Bit 15, RTM: advanced debugging of RTM regions (only with CPUID RTM).</summary>
    public const ulong Rtm = 1ul << 15;

    /// <summary>
    /// The bits this CPU implements: BTF (single-step on branches) and LBR, whose flag it keeps
    /// and clears on #DB but for which it records no branches (it has no LBR stack MSRs).
    /// Writing any other bit natively is #GP(0).
    /// </summary>
    public const ulong Implemented = Lbr | Btf;
}

/// <summary>
/// Debug exceptions (SDM vol. 3, chapter 18.3): single-step traps, instruction breakpoints (faults)
/// and data breakpoints (traps) from DR0-DR3 under DR7, general detect, and the interrupt shadow
/// of MOV SS / POP SS that holds debug traps off for one instruction (SDM vol. 3, 6.8.3).
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>DR6 bits of data breakpoints hit by the instruction being executed (reported if it completes).</summary>
    private uint dataBreakpointHits;

    /// <summary>Debug-trap DR6 bits held over a MOV SS / POP SS to the boundary after the next instruction.</summary>
    private uint heldDebugTraps;

    /// <summary>True while the instruction after MOV SS / POP SS executes: debug exceptions are inhibited.</summary>
    private bool debugShadow;

    /// <summary>
    /// IA32_DEBUGCTL as the processor uses it (bits in <see cref="DebugCtl"/>). A hypervisor that
    /// intercepts the MSR loads it directly, as VMX loads GUEST_IA32_DEBUGCTL at VM entry.
    /// Reset value 0 (SDM vol. 3, table 10-1).
    /// </summary>
    public ulong DebugCtlValue { get; set; }

    /// <summary>Set by a near branch that was taken (<see cref="Execution.ControlTransfer.BranchTo"/>); read for BTF.</summary>
    internal bool NearBranchTaken;

    /// <summary>True when DR7 enables any of the four breakpoints (L0-L3 or G0-G3).</summary>
    private bool BreakpointsEnabled => (Dr[7] & 0xFF) != 0;

    /// <summary>MOV from DR0-DR7 (DR4/DR5 already resolved to DR6/DR7 by the caller).</summary>
    internal ulong ReadDebugRegister(int n) => Dr[n];

    /// <summary>
    /// MOV to DR0-DR7 (SDM vol. 3, 18.2): in 64-bit mode bits 63:32 of DR6 and DR7 must be 0
    /// (#GP(0)); DR6 and DR7 keep their fixed bits whatever is written; outside 64-bit mode the
    /// breakpoint addresses are 32 bits.
    /// </summary>
    internal void WriteDebugRegister(int n, ulong value)
    {
        if (n >= 6 && Bitness == 64 && (value >> 32) != 0)
            throw CpuFault.GP(0);
        Dr[n] = n switch
        {
            6 => ((uint)value & DebugRegisters.Dr6Writable) | DebugRegisters.Dr6Fixed1,
            7 => ((uint)value & DebugRegisters.Dr7Writable) | DebugRegisters.Dr7Fixed1,
            _ => Bitness == 64 ? value : (uint)value,
        };
    }

    /// <summary>DR6 and DR7 after reset or INIT (SDM vol. 3, table 10-1).</summary>
    private void ResetDebugRegisters()
    {
        Array.Clear(Dr);
        Dr[6] = DebugRegisters.Dr6Fixed1;
        Dr[7] = DebugRegisters.Dr7Fixed1;
        dataBreakpointHits = heldDebugTraps = 0;
        debugShadow = false;
        DebugCtlValue = 0;
    }

    /// <summary>
    /// SDM vol. 3, 18.2.4: with DR7.GD set, any MOV to or from a debug register raises #DB as a
    /// fault before the access, with DR6.BD set.
    /// </summary>
    internal void CheckGeneralDetect()
    {
        if ((Dr[7] & DebugRegisters.GD) == 0)
            return;
        Dr[6] |= DebugRegisters.BD;
        throw new CpuFault(X86Vector.DB);
    }

    /// <summary>
    /// SDM vol. 3, 18.3.1.1: an enabled breakpoint with R/W = 00 whose address equals the linear
    /// address of the instruction's first byte (CS base + EIP). Returns the DR6.Bn bits matched.
    /// </summary>
    private uint MatchInstructionBreakpoints(ulong rip)
    {
        ulong linear = Bitness == 64 ? rip : (Segments[CS].Base + rip) & 0xFFFFFFFF;
        uint dr7 = (uint)Dr[7];
        uint hits = 0;
        for (int n = 0; n < 4; n++)
        {
            if (((dr7 >> (2 * n)) & 3) != 0 && ((dr7 >> (16 + (4 * n))) & 3) == 0 && Dr[n] == linear)
                hits |= 1u << n;
        }

        return hits;
    }

    /// <summary>
    /// SDM vol. 3, 18.2.5: a data access of <paramref name="size"/> bytes at <paramref name="linear"/>
    /// hits breakpoint n when DR7 enables it with R/W = 01 (writes) or 11 (reads and writes) and the
    /// access overlaps the LENn-aligned range at DRn (LEN 00, 01, 11, 10 = 1, 2, 4, 8 bytes).
    /// I/O breakpoints (R/W = 10 with CR4.DE) are not modelled.
    /// </summary>
    private void MatchDataBreakpoints(ulong linear, int size, AccessKind kind)
    {
        uint dr7 = (uint)Dr[7];
        for (int n = 0; n < 4; n++)
        {
            if (((dr7 >> (2 * n)) & 3) == 0)
                continue;
            uint rw = (dr7 >> (16 + (4 * n))) & 3;
            if (rw == 0 || rw == 2 || (rw == 1 && kind != AccessKind.Write))
                continue;
            ulong length = ((dr7 >> (18 + (4 * n))) & 3) switch { 0 => 1ul, 1 => 2ul, 2 => 8ul, _ => 4ul };
            ulong start = Dr[n] & ~(length - 1);
            if (linear < start + length && start < linear + (ulong)size)
                dataBreakpointHits |= 1u << n;
        }
    }

    /// <summary>
    /// True if <paramref name="insn"/> delivered a software interrupt: INT n, INT3, INT1 and INTO
    /// with OF set. Delivery clears TF and discards the single-step trap of that instruction, so
    /// the handler is neither entered with a #DB nor single-stepped (SDM vol. 3, 18.3.1.4).
    /// </summary>
    private bool DeliveredSoftwareInterrupt(in Instruction insn) => insn.Mnemonic switch
    {
        Mnemonic.Int or Mnemonic.Int3 or Mnemonic.Int1 => true,
        // INTO changes no status flag, so OF now is OF when it started.
        Mnemonic.Into => (Eflags & RFlags.OF) != 0,
        _ => false,
    };

    /// <summary>MOV SS and POP SS open the shadow that inhibits debug exceptions (SDM vol. 3, 6.8.3).</summary>
    private static bool LoadsStackSegment(in Instruction insn) =>
        insn.Mnemonic is Mnemonic.Mov or Mnemonic.Pop && insn.Op0Kind == OpKind.Register && insn.Op0Register == Register.SS;

    /// <summary>
    /// The EFLAGS whose TF decides the single-step trap after <paramref name="insn"/>: those it
    /// started with (SDM vol. 3, 18.3.1.4), except for SYSCALL, whose trap follows the TF it leaves
    /// after IA32_FMASK, so that a kernel masking TF is never entered with a #DB on the user's
    /// stack (undocumented in the SDM; Xen's XSA-204 advisory and XTF's tests/xsa-204 state it
    /// as what hardware does).
    /// </summary>
    private uint SingleStepFlags(in Instruction insn, uint flagsAtStart) =>
        insn.Mnemonic == Mnemonic.Syscall ? Eflags : flagsAtStart;

    /// <summary>
    /// Debug traps at the boundary after an instruction that completed: the single-step trap if TF
    /// was set when it started (an instruction that sets TF is not trapped, one that clears it is;
    /// SYSCALL excepted, <see cref="SingleStepFlags"/>), data breakpoints it hit, and traps held
    /// over a preceding MOV SS. A MOV SS / POP SS holds them to the next boundary; a software
    /// interrupt discards them.
    /// </summary>
    private StopReason? CompleteDebugTraps(in Instruction insn, uint flagsAtStart)
    {
        uint traps = heldDebugTraps | dataBreakpointHits;
        heldDebugTraps = 0;
        if ((SingleStepFlags(in insn, flagsAtStart) & RFlags.TF) != 0 && ((DebugCtlValue & DebugCtl.Btf) == 0 || TookBranch(in insn)))
            traps |= DebugRegisters.BS;
        if (DeliveredSoftwareInterrupt(insn))
            return null;
        if (LoadsStackSegment(insn) && !debugShadow)
        {
            heldDebugTraps = traps;
            debugShadow = true;
            return null;
        }

        debugShadow = false;
        return traps == 0 ? null : DeliverDebugException(traps);
    }

    /// <summary>
    /// With IA32_DEBUGCTL.BTF, whether <paramref name="insn"/> was a taken branch: jumps, calls and
    /// returns (near or far) always transfer; a conditional one (Jcc, LOOPcc, JrCXZ) only if it
    /// branched, which a jump to its own fall-through address also is (SDM vol. 3, 18.4.3).
    /// </summary>
    private bool TookBranch(in Instruction insn) => insn.FlowControl switch
    {
        FlowControl.UnconditionalBranch or FlowControl.IndirectBranch or FlowControl.Call
            or FlowControl.IndirectCall or FlowControl.Return => true,
        FlowControl.ConditionalBranch => NearBranchTaken,
        _ => false,
    };

    /// <summary>
    /// Delivers #DB with <paramref name="dr6Bits"/> added to DR6; the processor clears DR7.GD on
    /// entry to the handler so that it may use the debug registers (SDM vol. 3, 18.2.4), and
    /// IA32_DEBUGCTL.LBR and BTF (SDM vol. 3, 18.4.2 "the processor automatically clears the LBR
    /// flag before executing the exception handler"; 18.4.3: BTF is cleared along with TF).
    /// </summary>
    private StopReason? DeliverDebugException(uint dr6Bits)
    {
        Dr[6] |= dr6Bits;
        Dr[7] &= ~(ulong)DebugRegisters.GD;
        DebugCtlValue &= ~(DebugCtl.Lbr | DebugCtl.Btf);
        return DeliverFault(new CpuFault(X86Vector.DB));
    }
}
