using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>Segment-register loads by MOV, POP, LDS and friends (SDM vol. 2, MOV and POP pseudo-code).</summary>
public sealed partial class X86Cpu
{
    /// <summary>
    /// Loads a data segment register (ES, SS, DS, FS, GS) with every protected-mode check. CS is
    /// never loaded here: only far transfers load it.
    /// </summary>
    public void LoadSegment(int seg, ushort selector)
    {
        var reg = Segments[seg];
        if (!ProtectedMode)
        {
            reg.LoadReal(selector);
            return;
        }

        if (Virtual8086)
        {
            reg.LoadVirtual8086(selector);
            return;
        }

        bool isNull = (selector & 0xFFFC) == 0;
        uint error = CpuFault.SelectorError(selector);
        if (seg == SS)
        {
            // SS: a null selector faults (outside 64-bit mode at CPL < 3), RPL and DPL must equal
            // CPL, the segment must be writable data, and not-present raises #SS.
            if (isNull)
            {
                if (Bitness == 64 && Cpl < 3 && (selector & 3) == Cpl)
                {
                    reg.LoadNull(selector);
                    return;
                }

                throw CpuFault.GP(0);
            }

            if ((selector & 3) != Cpl)
                throw CpuFault.GP(error);
            var d = ReadDescriptor(selector);
            if (d.Dpl != Cpl || !d.Writable)
                throw CpuFault.GP(error);
            if (!d.Present)
                throw new CpuFault(X86Vector.SS, error);
            SetAccessed(selector, d);
            reg.Load(selector, d);
            return;
        }

        if (isNull)
        {
            reg.LoadNull(selector);
            return;
        }

        // DS, ES, FS, GS: data or readable code; unless conforming code, DPL >= max(CPL, RPL).
        var desc = ReadDescriptor(selector);
        if (!desc.IsCodeOrData || (desc.IsCode && !desc.Readable))
            throw CpuFault.GP(error);
        if (!desc.Conforming && (desc.Dpl < Cpl || desc.Dpl < (selector & 3)))
            throw CpuFault.GP(error);
        if (!desc.Present)
            throw new CpuFault(X86Vector.NP, error);
        SetAccessed(selector, desc);
        reg.Load(selector, desc);
    }

    /// <summary>Loads CS for a checked far transfer or return, with RPL = <paramref name="cpl"/>; in real and virtual-8086 mode from the selector alone.</summary>
    internal void CommitCodeSegment(ushort selector, SegmentDescriptor d, int cpl)
    {
        if (!ProtectedMode)
        {
            Segments[CS].LoadReal(selector);
        }
        else if (Virtual8086)
        {
            Segments[CS].LoadVirtual8086(selector);
        }
        else
        {
            SetAccessed(selector, d);
            Segments[CS].Load((ushort)((selector & 0xFFFC) | cpl), d);
        }

        UpdateMode();
    }

    /// <summary>
    /// After a return to an outer privilege level (RET far, IRET), data segment registers the new
    /// CPL may not use are loaded with null (SDM vol. 2, RET: "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
    /// </summary>
    internal void NullifyInaccessibleDataSegments()
    {
        foreach (int seg in (ReadOnlySpan<int>)[ES, DS, FS, GS])
        {
            var s = Segments[seg];
            bool dataOrNonConforming = s.IsCodeOrData && (!s.IsCode || !s.Conforming);
            if (s.Usable && dataOrNonConforming && s.Dpl < Cpl)
                s.LoadNull(0);
        }
    }

    /// <summary>Checks a descriptor for a return target code segment and loads CS (far RET and IRET).</summary>
    internal SegmentDescriptor CheckReturnCodeSegment(ushort selector)
    {
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        uint error = CpuFault.SelectorError(selector);
        var d = ReadDescriptor(selector);
        int rpl = selector & 3;
        if (!d.IsCode || rpl < Cpl)
            throw CpuFault.GP(error);
        if (d.Conforming ? d.Dpl > rpl : d.Dpl != rpl)
            throw CpuFault.GP(error);

        // SDM vol. 2, RET and IRET: in IA-32e mode a code segment with L and D both set is #GP(selector).
        if (LongMode && d.Long && d.DefaultBig)
            throw CpuFault.GP(error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        return d;
    }

    /// <summary>
    /// The SS selector popped by a far RET or IRET in IA-32e mode (SDM vol. 2, IRET,
    /// IA-32e-MODE-RETURN; RET, IA-32E-MODE-RETURN-OUTER-PRIVILEGE-LEVEL): a null selector is
    /// allowed only on a return to 64-bit mode at a CPL other than 3 with RPL = the new CPL,
    /// else #GP(0); any other selector is checked as outside IA-32e mode. Returns null for a null
    /// selector (the caller loads it as such).
    /// </summary>
    internal SegmentDescriptor? CheckLongModeReturnStack(ushort selector, int rpl, bool to64)
    {
        if ((selector & 0xFFFC) != 0)
            return CheckReturnStackSegment(selector, rpl);
        if (!to64 || rpl == 3 || (selector & 3) != rpl)
            throw CpuFault.GP(0);
        return null;
    }

    /// <summary>Checks the SS selector popped by a return to an outer level (SDM vol. 2, IRET/RET).</summary>
    internal SegmentDescriptor CheckReturnStackSegment(ushort selector, int rpl)
    {
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        uint error = CpuFault.SelectorError(selector);
        if ((selector & 3) != rpl)
            throw CpuFault.GP(error);
        var d = ReadDescriptor(selector);
        if (!d.Writable || d.Dpl != rpl)
            throw CpuFault.GP(error);
        if (!d.Present)
            throw new CpuFault(X86Vector.SS, error);
        return d;
    }
}
