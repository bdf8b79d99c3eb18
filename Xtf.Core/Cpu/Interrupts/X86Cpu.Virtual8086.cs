using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>
/// Virtual-8086 mode (SDM vol. 3, chapter 20): entry by IRET or a task switch with EFLAGS.VM
/// set, exit by an interrupt or exception to a ring-0 handler. CR4.VME and CR4.PVI (virtual
/// interrupt flag, redirection bitmap) are not modelled: with or without them set, the
/// IOPL-sensitive instructions behave as with VME = 0 (SDM 20.2.7).
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>Segment cache in virtual-8086 mode (<see cref="SegmentRegister.LoadVirtual8086"/>).</summary>
    internal void LoadVirtual8086Segment(int seg, ushort selector) => Segments[seg].LoadVirtual8086(selector);

    /// <summary>
    /// SDM vol. 2, IRET, RETURN-TO-VIRTUAL-8086-MODE (CPL 0, 32-bit operand size, VM set in the
    /// popped EFLAGS): the 36-byte frame EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS must be on the
    /// stack (#SS(0)); EIP must fit the 64 KiB segment (#GP(0)); EFLAGS is taken whole, the
    /// segment registers are loaded as in virtual-8086 mode, and CPL becomes 3.
    /// </summary>
    internal void ReturnToVirtual8086(ulong eip, ushort cs, uint flags)
    {
        ulong esp = PeekStack(12, 4);
        Span<ushort> selectors = stackalloc ushort[6];
        selectors[SS] = (ushort)PeekStack(16, 4);
        selectors[ES] = (ushort)PeekStack(20, 4);
        selectors[DS] = (ushort)PeekStack(24, 4);
        selectors[FS] = (ushort)PeekStack(28, 4);
        selectors[GS] = (ushort)PeekStack(32, 4);
        selectors[CS] = cs;
        if (eip > 0xFFFF)
            throw CpuFault.GP(0);

        Eflags = (flags & DefinedFlags) | RFlags.Reserved1;
        for (int seg = 0; seg < 6; seg++)
            LoadVirtual8086Segment(seg, selectors[seg]);
        Esp = (uint)esp;
        NextRip = eip;
        UpdateMode();
    }

    /// <summary>
    /// SDM vol. 2, INT n, INTERRUPT-FROM-VIRTUAL-8086-MODE, through an interrupt or trap gate to a
    /// non-conforming DPL-0 code segment: switch to SS0:ESP0 of the TSS (#TS, #SS checks as for any
    /// privilege change), push GS, FS, DS, ES, SS, ESP, EFLAGS, CS, EIP [and the error code] in the
    /// gate's size, check EIP against the code segment (#GP(EXT)), then null DS, ES, FS, GS and
    /// clear VM, TF, RF, NT (and IF for an interrupt gate).
    /// </summary>
    private void DeliverFromVirtual8086(ushort selector, SegmentDescriptor code, ulong target, int size, bool ext,
        uint? errorCode, ulong returnRip, bool interruptGate)
    {
        var (ssSelector, sp) = ReadTssStack(0, ext);
        LoadInnerStack(ssSelector, 0, ext);
        Span<ulong> frame = stackalloc ulong[9];
        frame[0] = Segments[GS].Selector;
        frame[1] = Segments[FS].Selector;
        frame[2] = Segments[DS].Selector;
        frame[3] = Segments[ES].Selector;
        frame[4] = Segments[SS].Selector;
        frame[5] = Esp;
        frame[6] = Eflags;
        frame[7] = Segments[CS].Selector;
        frame[8] = returnRip;
        ulong newSp = CheckFrame(innerStack, SelectorErrorCode(ssSelector, ext), sp, frame.Length, errorCode, size);
        if (target > code.EffectiveLimit)
            throw CpuFault.GP(ext ? 1u : 0);
        WriteFrame(innerStack, SelectorErrorCode(ssSelector, ext), sp, frame, errorCode, size);

        foreach (int seg in (ReadOnlySpan<int>)[GS, FS, DS, ES])
            Segments[seg].LoadNull(0);
        Segments[SS].CopyFrom(innerStack);
        WriteGpr(RSP, innerStack.DefaultBig ? 4 : 2, newSp);
        SetAccessed(selector, code);
        Segments[CS].Load((ushort)(selector & 0xFFFC), code);
        Rip = NextRip = target;
        Eflags &= ~(RFlags.VM | RFlags.TF | RFlags.RF | RFlags.NT);
        if (interruptGate)
            Eflags &= ~RFlags.IF;
        UpdateMode();
    }
}
