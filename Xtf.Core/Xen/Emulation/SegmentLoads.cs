using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// MOV Sreg, r/m16 and POP Sreg in the emulator (Xen's protmode_load_seg), with the checks of SDM
/// vol. 2, MOV and POP, in their order: a null selector is allowed for DS, ES, FS and GS (the
/// register becomes unusable); for SS only in 64-bit mode at CPL &lt; 3 with RPL = CPL, else
/// #GP(0). A selector beyond its table (or naming a null LDT) is #GP(selector). SS needs RPL = CPL,
/// a writable data segment and DPL = CPL (#GP(selector)), and present (#SS(selector)); DS, ES, FS
/// and GS need data or readable code, DPL &gt;= CPL and RPL unless conforming code
/// (#GP(selector)), and present (#NP(selector)). The descriptor's accessed bit is set on a load.
/// </summary>
internal static class SegmentLoads
{
    /// <summary>MOV Sreg, r/m16: loading CS is #UD (SDM: MOV); MOV SS inhibits interrupts for one instruction.</summary>
    public static void MovToSreg(HvmEmulator e, in Instruction i)
    {
        var cpu = e.Cpu;
        int seg = i.Op0Register - Register.ES;
        if (seg == X86Cpu.CS)
            throw CpuFault.UD();
        ushort selector = (ushort)(i.Op1Kind == OpKind.Memory
            ? SegmentedOperands.Read(e, in i, 2)
            : cpu.ReadRegister(i.Op1Register));
        Load(e, seg, selector);
        if (seg == X86Cpu.SS)
            cpu.InhibitInterrupts();
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>
    /// POP Sreg (SDM: POP): the selector is read at SS:SP (the operand size wide), loaded, and
    /// only then does the stack pointer move; POP SS inhibits interrupts for one instruction.
    /// </summary>
    public static void PopSreg(HvmEmulator e, in Instruction i)
    {
        var cpu = e.Cpu;
        int seg = i.Op0Register - Register.ES;
        int size = i.StackPointerIncrement;
        ushort selector = (ushort)SegmentedOperands.ReadLogical(e, X86Cpu.SS, cpu.StackPointer, size);
        Load(e, seg, selector);
        cpu.StackPointer += (ulong)size;
        if (seg == X86Cpu.SS)
            cpu.InhibitInterrupts();
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>Loads data segment register <paramref name="seg"/> with <paramref name="selector"/>.</summary>
    public static void Load(HvmEmulator e, int seg, ushort selector)
    {
        var cpu = e.Cpu;
        var reg = cpu.Segments[seg];
        if (!cpu.ProtectedMode)
        {
            reg.LoadReal(selector);
            return;
        }

        if (cpu.Virtual8086)
        {
            reg.LoadVirtual8086(selector);
            return;
        }

        bool isNull = (selector & 0xFFFC) == 0;
        int rpl = selector & 3;
        uint error = CpuFault.SelectorError(selector);
        if (seg == X86Cpu.SS)
        {
            if (isNull)
            {
                if (cpu.Bitness == 64 && cpu.Cpl < 3 && rpl == cpu.Cpl)
                {
                    reg.LoadNull(selector);
                    return;
                }

                throw CpuFault.GP(0);
            }

            if (rpl != cpu.Cpl)
                throw CpuFault.GP(error);
            var d = ReadDescriptor(e, selector);
            if (!d.Writable || d.Dpl != cpu.Cpl)
                throw CpuFault.GP(error);
            if (!d.Present)
                throw new CpuFault(X86Vector.SS, error);
            cpu.SetAccessed(selector, d);
            reg.Load(selector, d);
            return;
        }

        if (isNull)
        {
            reg.LoadNull(selector);
            return;
        }

        var desc = ReadDescriptor(e, selector);
        if (!desc.IsCodeOrData || (desc.IsCode && !desc.Readable))
            throw CpuFault.GP(error);
        if (!desc.Conforming && (desc.Dpl < cpu.Cpl || desc.Dpl < rpl))
            throw CpuFault.GP(error);
        if (!desc.Present)
            throw new CpuFault(X86Vector.NP, error);
        cpu.SetAccessed(selector, desc);
        reg.Load(selector, desc);
    }

    /// <summary>
    /// The descriptor a selector names (SDM vol. 3, 3.5.1): in the GDT (TI = 0) or the LDT (TI = 1),
    /// whose 8 bytes must lie within the table's limit; a null LDT has none (#GP(selector)). The
    /// table is read as an implicit supervisor access.
    /// </summary>
    private static SegmentDescriptor ReadDescriptor(HvmEmulator e, ushort selector)
    {
        var cpu = e.Cpu;
        uint error = CpuFault.SelectorError(selector);
        bool local = (selector & 4) != 0;

        // XSA-191 (Xen 04beafa8e6 added "if ( !desctab.attr.fields.p ) goto raise_exn;" to
        // protmode_load_seg): Xen looked selectors up in the LDT without checking that LDTR was
        // usable, in whatever base and limit its cache held; after a null LLDT they are the old
        // LDT's (SegmentRegister.Invalidate), so a stale LDT entry loads.
        if (local && !cpu.Ldtr.Usable && !e.Options.Has(Quirk.Xsa191))
            throw CpuFault.GP(error);
        ulong tableBase = local ? cpu.Ldtr.Base : cpu.Gdtr.Base;
        uint limit = local ? cpu.Ldtr.Limit : cpu.Gdtr.Limit;
        uint offset = (uint)(selector & 0xFFF8);
        if (offset + 7 > limit)
            throw CpuFault.GP(error);
        ulong linear = tableBase + offset;
        return new SegmentDescriptor(cpu.ReadImplicit(cpu.LongMode ? linear : linear & 0xFFFFFFFF, 8));
    }
}
