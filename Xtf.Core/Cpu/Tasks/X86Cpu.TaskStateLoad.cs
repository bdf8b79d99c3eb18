using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Cpu.Tasks;

namespace Xtf.Core.Cpu;

/// <summary>
/// Loading the incoming task (SDM vol. 3, 7.3 steps 11-12). Everything here happens after the
/// commit point: a fault is raised in the context of the new task, with its registers loaded.
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>Every architecturally defined EFLAGS bit (SDM vol. 1, 3.4.3).</summary>
    private const uint DefinedFlags = RFlags.Status | RFlags.TF | RFlags.IF | RFlags.DF | RFlags.IOPL | RFlags.NT
        | RFlags.RF | RFlags.VM | RFlags.AC | RFlags.VIF | RFlags.VIP | RFlags.ID;

    private void LoadTaskState(TaskState s, bool external)
    {
        // Step 11: EIP, EFLAGS, the general-purpose registers, CR3 and the selectors. Until step 12
        // qualifies them, the segment caches hold nothing usable.
        Rip = NextRip = s.Eip;
        if (s.Is32)
        {
            Eflags = (s.Eflags & DefinedFlags) | RFlags.Reserved1;
            for (int i = 0; i < 8; i++)
                gpr[i] = s.Gprs[i];

            // SDM vol. 3, 7.2.1: CR3 is loaded from a 32-bit TSS when paging is on (16-bit TSSs have none).
            if ((Cr0Value & Cr0.PG) != 0)
                WriteControlRegister(3, s.Cr3);
        }
        else
        {
            // SDM vol. 3, 7.6 leaves the upper halves "modified and not maintained"; like Bochs we
            // clear the upper EFLAGS word and set the upper GPR words to ones.
            Eflags = (s.Eflags & DefinedFlags & 0xFFFF) | RFlags.Reserved1;
            for (int i = 0; i < 8; i++)
                gpr[i] = 0xFFFF0000u | s.Gprs[i];
        }

        for (int seg = 0; seg < 6; seg++)
            Segments[seg].LoadNull(s.Selectors[seg]);
        Ldtr.LoadNull(s.Ldt);
        UpdateMode();

        ushort ldt = s.Ldt;
        var ldtDescriptor = CheckTaskLdtSelector(ldt, external);
        if (Virtual8086)
        {
            CheckTaskLdtPresent(ldt, ldtDescriptor, external);
            for (int seg = 0; seg < 6; seg++)
                LoadVirtual8086Segment(seg, s.Selectors[seg]);
            UpdateMode();
            return;
        }

        LoadTaskCodeAndStack(s.Selectors[CS], s.Selectors[SS], ldt, ldtDescriptor, external);
        foreach (int seg in (ReadOnlySpan<int>)[DS, ES, FS, GS])
            LoadTaskDataSegment(seg, s.Selectors[seg], external);
    }

    /// <summary>
    /// Table 7-1 row 5: a non-null LDT selector must name an LDT descriptor in the GDT, else
    /// #TS(LDT selector). LDTR takes it at once so that CS and SS with TI=1 are found in the new
    /// LDT; whether it is present is row 10.
    /// </summary>
    private SegmentDescriptor CheckTaskLdtSelector(ushort ldt, bool external)
    {
        if ((ldt & 0xFFFC) == 0)
            return default;
        uint error = SelectorErrorCode(ldt, external);
        if ((ldt & 4) != 0)
            throw new CpuFault(X86Vector.TS, error);
        var d = ReadDescriptor(ldt, X86Vector.TS, external);
        if (!d.IsSystem || d.Type != SystemDescriptorType.Ldt)
            throw new CpuFault(X86Vector.TS, error);
        Ldtr.Load(ldt, d);
        return d;
    }

    /// <summary>Table 7-1 row 10: the LDT of the new task must be present, else #TS(LDT selector).</summary>
    private void CheckTaskLdtPresent(ushort ldt, SegmentDescriptor d, bool external)
    {
        if ((ldt & 0xFFFC) == 0 || d.Present)
            return;
        Ldtr.LoadNull(ldt);
        throw new CpuFault(X86Vector.TS, SelectorErrorCode(ldt, external));
    }

    /// <summary>
    /// Table 7-1 rows 6-13, in the table's order (the P6 family's, SDM note to table 7-1), with
    /// CPL = the new CS selector's RPL.
    /// </summary>
    private void LoadTaskCodeAndStack(ushort cs, ushort ss, ushort ldt, SegmentDescriptor ldtDescriptor, bool external)
    {
        int cpl = cs & 3;
        uint csError = SelectorErrorCode(cs, external), ssError = SelectorErrorCode(ss, external);
        bool csValid = TryReadTaskDescriptor(cs, external, out var code) && code.IsCode;

        // Row 6: a non-conforming code segment's DPL equals the RPL; a conforming one's DPL is at most the RPL.
        if (csValid && (code.Conforming ? code.Dpl > cpl : code.Dpl != cpl))
            throw new CpuFault(X86Vector.TS, csError);

        // Row 7: SS is non-null, within its table, writable data. Row 8: present, else #SS. Row 9: DPL = CPL.
        if (!TryReadTaskDescriptor(ss, external, out var stack) || !stack.Writable)
            throw new CpuFault(X86Vector.TS, ssError);
        if (!stack.Present)
            throw new CpuFault(X86Vector.SS, ssError);
        if (stack.Dpl != cpl)
            throw new CpuFault(X86Vector.TS, ssError);

        CheckTaskLdtPresent(ldt, ldtDescriptor, external);

        // Row 11: CS is non-null, within its table, a code segment. Row 12: present, else #NP.
        if (!csValid)
            throw new CpuFault(X86Vector.TS, csError);
        if (!code.Present)
            throw new CpuFault(X86Vector.NP, csError);

        // Row 13: SS DPL = SS RPL.
        if (stack.Dpl != (ss & 3))
            throw new CpuFault(X86Vector.TS, ssError);

        SetAccessed(cs, code);
        Segments[CS].Load(cs, code);
        SetAccessed(ss, stack);
        Segments[SS].Load(ss, stack);
        UpdateMode();
    }

    /// <summary>
    /// Table 7-1 rows 14-17 for one of DS, ES, FS, GS: a null selector stays null; otherwise
    /// within its table and code or data (#TS), readable (#TS), present (#NP), and unless
    /// conforming code DPL at least CPL (#TS) and, as for MOV (SDM: MOV), at least RPL.
    /// </summary>
    private void LoadTaskDataSegment(int seg, ushort selector, bool external)
    {
        if ((selector & 0xFFFC) == 0)
            return;
        uint error = SelectorErrorCode(selector, external);
        if (!TryReadTaskDescriptor(selector, external, out var d) || !d.IsCodeOrData)
            throw new CpuFault(X86Vector.TS, error);
        if (!d.Readable)
            throw new CpuFault(X86Vector.TS, error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        if (!d.Conforming && (d.Dpl < Cpl || d.Dpl < (selector & 3)))
            throw new CpuFault(X86Vector.TS, error);
        SetAccessed(selector, d);
        Segments[seg].Load(selector, d);
    }

    /// <summary>Reads the descriptor of a non-null selector that lies within its GDT or (usable) LDT; false otherwise.</summary>
    private bool TryReadTaskDescriptor(ushort selector, bool external, out SegmentDescriptor d)
    {
        d = default;
        if ((selector & 0xFFFC) == 0)
            return false;
        bool local = (selector & 4) != 0;
        if (local && !Ldtr.Usable)
            return false;
        uint limit = local ? Ldtr.Limit : Gdtr.Limit;
        if ((uint)(selector & 0xFFF8) + 7 > limit)
            return false;
        d = ReadDescriptor(selector, X86Vector.TS, external);
        return true;
    }
}
