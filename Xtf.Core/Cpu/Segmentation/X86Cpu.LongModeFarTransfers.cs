using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Cpu.Tasks;

namespace Xtf.Core.Cpu;

/// <summary>
/// Far JMP and far CALL in IA-32e mode (SDM vol. 2, JMP and CALL; vol. 3, 5.8.3.1 and 5.8.6): to a
/// 64-bit or compatibility-mode code segment, or through a 16-byte 64-bit call gate to a 64-bit
/// code segment. There are no task switches in IA-32e mode (SDM vol. 3, 7.7): a TSS descriptor or
/// task gate, like a 16-bit call gate, is a type the transfer does not accept (#GP(selector)).
/// </summary>
public sealed partial class X86Cpu
{
    private void FarJumpLongMode(ushort selector, ulong offset, int operandSize)
    {
        var (d, high) = ReadLongModeFarTarget(selector);
        if (d.IsCode)
        {
            CheckDirectCodeTarget(selector, d);
            ulong target = LongModeCodeOffset(d, offset & SizeMask(operandSize));
            CommitCodeSegment(selector, d, Cpl);
            NextRip = target;
            return;
        }

        // SDM: JMP, CALL-GATE: no privilege change; then the target must be 64-bit code.
        var (codeSelector, code) = CheckCallGate(selector, d);
        if (code.Conforming ? code.Dpl > Cpl : code.Dpl != Cpl)
            throw CpuFault.GP(SelectorErrorCode(codeSelector, false));
        Check64BitGateTarget(codeSelector, code);
        if (!code.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(codeSelector, false));
        ulong gateTarget = CanonicalGateTarget(d, high);
        CommitCodeSegment(codeSelector, code, Cpl);
        NextRip = gateTarget;
    }

    private void FarCallLongMode(ushort selector, ulong offset, int operandSize)
    {
        var (d, high) = ReadLongModeFarTarget(selector);
        if (d.IsCode)
        {
            CheckDirectCodeTarget(selector, d);
            CheckStackWritable(2 * operandSize);
            ulong target = LongModeCodeOffset(d, offset & SizeMask(operandSize));
            PushReturnAddress(operandSize);
            CommitCodeSegment(selector, d, Cpl);
            NextRip = target;
            return;
        }

        var (codeSelector, code) = CheckCallGate(selector, d);
        if (code.Dpl > Cpl)
            throw CpuFault.GP(SelectorErrorCode(codeSelector, false));
        Check64BitGateTarget(codeSelector, code);
        if (!code.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(codeSelector, false));
        if (!code.Conforming && code.Dpl < Cpl)
        {
            CallGateMorePrivilegeLongMode(d, high, codeSelector, code);
            return;
        }

        // SDM: CALL, SAME-PRIVILEGE, CallGateSize = 64: room for 16 bytes (#SS(0)), a canonical
        // target (#GP(0)), then CS and RIP as 8-byte slots whatever the caller's operand size.
        CheckStackWritable(16);
        ulong gateTarget = CanonicalGateTarget(d, high);
        PushReturnAddress(8);
        CommitCodeSegment(codeSelector, code, Cpl);
        NextRip = gateTarget;
    }

    /// <summary>
    /// SDM: CALL, MORE-PRIVILEGE, current TSS 64-bit: RSPn of the new CPL from the TSS
    /// (#TS(TSS selector) beyond its limit); the new SS is a null selector with RPL = the new CPL,
    /// so there is no stack-segment check. The 32 bytes below RSPn must be canonical (#SS(new SS),
    /// whose error code is 0) and writable, the gate's target canonical (#GP(0)). No parameters
    /// are copied (5.8.6): the old SS, RSP, CS and RIP go on the new stack as 8-byte slots.
    /// </summary>
    private void CallGateMorePrivilegeLongMode(SegmentDescriptor gate, ulong high, ushort codeSelector, SegmentDescriptor code)
    {
        int newCpl = code.Dpl;
        ulong newRsp = ReadTss64Stack(Tss64.Rsp(newCpl), external: false);
        ulong frameBottom = newRsp - 32;
        ProbeLongModeFrame(frameBottom, newRsp, ssError: 0);
        ulong gateTarget = CanonicalGateTarget(gate, high);

        ulong at = newRsp;
        foreach (ulong value in (ReadOnlySpan<ulong>)[Segments[SS].Selector, gpr[RSP], Segments[CS].Selector, NextRip])
        {
            at -= 8;
            WriteImplicit(at, 8, value);
        }

        Segments[SS].LoadNull((ushort)newCpl);
        gpr[RSP] = frameBottom;
        CommitCodeSegment(codeSelector, code, newCpl);
        NextRip = gateTarget;
    }

    /// <summary>
    /// SDM: JMP/CALL in IA-32e mode: a null selector is #GP(0); the descriptor must lie within its
    /// table (#GP(selector)) and be a code segment without both L and D set, or a 64-bit call gate
    /// whose 16 bytes lie within the table and whose upper type field is 0 (SDM vol. 3, 5.8.3.1
    /// and the #GP list of 6.15); anything else is #GP(selector). Returns bytes 0-7, and 8-15 of a gate.
    /// </summary>
    private (SegmentDescriptor Descriptor, ulong High) ReadLongModeFarTarget(ushort selector)
    {
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        uint error = SelectorErrorCode(selector, false);
        var d = ReadDescriptor(selector);
        if (d.IsCode)
        {
            if (d.Long && d.DefaultBig)
                throw CpuFault.GP(error);
            return (d, 0);
        }

        if (d.IsCodeOrData || d.Type != SystemDescriptorType.CallGate64)
            throw CpuFault.GP(error);
        ulong high = ReadDescriptorHigh(selector);
        if (((high >> 40) & 0x1F) != 0)
            throw CpuFault.GP(error);
        return (d, high);
    }

    /// <summary>
    /// SDM: JMP/CALL, CONFORMING- and NONCONFORMING-CODE-SEGMENT in IA-32e mode: a 64-bit target
    /// needs a canonical offset; a compatibility-mode target takes the low 32 bits, which must lie
    /// within its limit (#GP(0)).
    /// </summary>
    private static ulong LongModeCodeOffset(SegmentDescriptor code, ulong offset)
    {
        if (code.Long)
        {
            if (!IsCanonical(offset))
                throw CpuFault.GP(0);
            return offset;
        }

        offset &= 0xFFFFFFFF;
        if (offset > code.EffectiveLimit)
            throw CpuFault.GP(0);
        return offset;
    }

    /// <summary>SDM: CALL/JMP, CALL-GATE: in IA-32e mode the gate's code segment must be 64-bit (L = 1, D = 0), else #GP(code selector).</summary>
    private static void Check64BitGateTarget(ushort codeSelector, SegmentDescriptor code)
    {
        if (!code.Is64BitCode)
            throw CpuFault.GP(SelectorErrorCode(codeSelector, false));
    }

    /// <summary>The 64-bit offset of a call gate (bytes 0-1, 6-7 and 8-11), which must be canonical (#GP(0)).</summary>
    private static ulong CanonicalGateTarget(SegmentDescriptor gate, ulong high)
    {
        ulong target = gate.GateOffset | ((high & 0xFFFFFFFF) << 32);
        if (!IsCanonical(target))
            throw CpuFault.GP(0);
        return target;
    }
}
