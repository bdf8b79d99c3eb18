using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>
/// The stack for a more privileged level, shared by interrupt delivery (SDM vol. 3, 6.12.1) and
/// calls through call gates (5.8.5): SS:ESP from the current TSS, and the checks on that SS.
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>
    /// SS:ESP for privilege level <paramref name="dpl"/> from the current TSS (figures 7-2 and
    /// 7-11): a 32-bit TSS holds ESPn at 8n + 4 and SSn after it, a 16-bit TSS SPn at 4n + 2. A
    /// slot beyond the TSS limit is #TS(current TSS selector).
    /// </summary>
    internal (ushort Ss, ulong Sp) ReadTssStack(int dpl, bool external)
    {
        bool tss32 = (Tr.Type & 8) != 0;
        uint spOffset = tss32 ? (uint)(4 + (8 * dpl)) : (uint)(2 + (4 * dpl));
        int spSize = tss32 ? 4 : 2;
        if (spOffset + (uint)spSize + 1 > Tr.Limit)
            throw new CpuFault(X86Vector.TS, SelectorErrorCode(Tr.Selector, external));
        ulong sp = ReadImplicit((Tr.Base + spOffset) & 0xFFFFFFFF, spSize);
        ushort ss = (ushort)ReadImplicit((Tr.Base + spOffset + (uint)spSize) & 0xFFFFFFFF, 2);
        return (ss, sp);
    }

    /// <summary>
    /// A stack pointer from the 64-bit TSS of IA-32e mode (SDM vol. 3, 7.7): RSPn or ISTn at
    /// <paramref name="offset"/>. Its 8 bytes must lie within the TSS limit, else #TS(current TSS
    /// selector, EXT) (SDM: INT n and CALL, "TSSstackAddress + 7 &gt; current TSS limit").
    /// </summary>
    internal ulong ReadTss64Stack(uint offset, bool external)
    {
        if (offset + 7 > Tr.Limit)
            throw new CpuFault(X86Vector.TS, SelectorErrorCode(Tr.Selector, external));
        return ReadImplicit(Tr.Base + offset, 8);
    }

    /// <summary>
    /// The new SS for privilege level <paramref name="cpl"/>: null is #TS(0 | EXT); RPL and DPL
    /// other than the new CPL, or not a writable data segment, #TS(SS); not present #SS(SS).
    /// Returns the descriptor; the caller loads it at its commit point.
    /// </summary>
    internal SegmentDescriptor CheckInnerStackSegment(ushort selector, int cpl, bool external)
    {
        if ((selector & 0xFFFC) == 0)
            throw new CpuFault(X86Vector.TS, external ? 1u : 0);
        uint error = SelectorErrorCode(selector, external);
        if ((selector & 3) != cpl)
            throw new CpuFault(X86Vector.TS, error);
        var d = ReadDescriptor(selector, X86Vector.TS, external);
        if (d.Dpl != cpl || !d.Writable)
            throw new CpuFault(X86Vector.TS, error);
        if (!d.Present)
            throw new CpuFault(X86Vector.SS, error);
        return d;
    }
}
