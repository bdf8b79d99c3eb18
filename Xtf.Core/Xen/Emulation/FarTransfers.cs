using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// Far JMP, far CALL and far RET to a code segment in protected mode, in the emulator (Xen's
/// protmode_load_seg for CS). The new CS is checked as the SDM's JMP, CALL and RET pseudo-code
/// do: null #GP(0); beyond the table limit, or not code, #GP(selector); in IA-32e mode L and D
/// both set #GP(selector); the privilege checks; not present #NP(selector); then the offset.
/// XSA-110: Xen's CS load lacked the privilege checks (DPL against CPL and RPL), so CPL 3 code
/// could far-branch onto a ring-0 code segment and run there at CPL 0; quirk xsa-110 skips them
/// and the CPL becomes the target's DPL, as Xen's load did.
/// Call gates, task gates and TSS descriptors, real-address and virtual-8086 mode, and near
/// branches run with the processor's own semantics (<see cref="X86Cpu.ExecuteInstruction"/>):
/// the emulator does not re-implement them.
/// </summary>
internal static class FarTransfers
{
    public static void Install(Action<Mnemonic, EmulationHandler> own)
    {
        own(Mnemonic.Jmp, (HvmEmulator e, in Instruction i) => Branch(e, in i, call: false));
        own(Mnemonic.Call, (HvmEmulator e, in Instruction i) => Branch(e, in i, call: true));
        own(Mnemonic.Retf, Retf);
    }

    private static bool Protected(X86Cpu cpu) => cpu.ProtectedMode && !cpu.Virtual8086;

    private static bool SkipsPrivilegeChecks(HvmEmulator e) => e.Options.Has(Quirk.Xsa110);

    /// <summary>
    /// JMP/CALL ptr16:16/32 and m16:16/32/64 (SDM vol. 2, JMP and CALL: CONFORMING-CODE-SEGMENT
    /// and NONCONFORMING-CODE-SEGMENT). CPL does not change: a conforming target needs
    /// DPL &lt;= CPL, a nonconforming one RPL &lt;= CPL and DPL = CPL (#GP(selector)). CALL then
    /// needs room for the return CS:IP (#SS(0)) before the offset check (#GP(0)).
    /// </summary>
    private static void Branch(HvmEmulator e, in Instruction i, bool call)
    {
        var cpu = e.Cpu;
        bool far = call ? i.IsCallFar || i.IsCallFarIndirect : i.IsJmpFar || i.IsJmpFarIndirect;
        if (!far || !Protected(cpu))
        {
            cpu.ExecuteInstruction(in i);
            return;
        }

        var (selector, offset, size) = ControlTransfer.FarPointer(cpu, in i);
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        var d = cpu.ReadDescriptor(selector);
        if (!d.IsCode)
        {
            cpu.ExecuteInstruction(in i);
            return;
        }

        uint error = CpuFault.SelectorError(selector);
        if (cpu.LongMode && d.Long && d.DefaultBig)
            throw CpuFault.GP(error);
        bool allowed = d.Conforming ? d.Dpl <= cpu.Cpl : (selector & 3) <= cpu.Cpl && d.Dpl == cpu.Cpl;
        if (!allowed && !SkipsPrivilegeChecks(e))
            throw CpuFault.GP(error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        if (call)
            cpu.CheckStackWritable(2 * size);
        ulong target = TargetOffset(cpu, d, offset & X86Cpu.SizeMask(size));

        if (call)
        {
            cpu.Push(cpu.Segments[X86Cpu.CS].Selector, size);
            cpu.Push(e.NextIp(in i) & X86Cpu.SizeMask(size), size);
        }

        // The CPL stays; only with the checks skipped can a nonconforming DPL differ from it.
        cpu.CommitCodeSegment(selector, d, d.Conforming ? cpu.Cpl : d.Dpl);
        cpu.Rip = target;
    }

    /// <summary>
    /// RETF and RETF imm16 (SDM vol. 2, RET, protected mode): the return CS needs RPL &gt;= CPL,
    /// and DPL = RPL (nonconforming) or DPL &lt;= RPL (conforming), else #GP(selector). RPL = CPL
    /// returns at the same level; RPL &gt; CPL to an outer level, popping SS:ESP after the
    /// immediate is released and nulling data segments the new CPL may not use.
    /// </summary>
    private static void Retf(HvmEmulator e, in Instruction i)
    {
        var cpu = e.Cpu;
        if (!Protected(cpu))
        {
            cpu.ExecuteInstruction(in i);
            return;
        }

        int size = i.Code switch
        {
            Code.Retfw or Code.Retfw_imm16 => 2,
            Code.Retfq or Code.Retfq_imm16 => 8,
            _ => 4,
        };
        ulong imm = i.Op0Kind == OpKind.Immediate16 ? i.Immediate16 : 0u;
        ulong offset = cpu.PeekStack(0, size);
        ushort selector = (ushort)cpu.PeekStack(size, size);
        var code = ReturnCodeSegment(e, selector);
        int rpl = selector & 3;
        bool to64 = cpu.LongMode && code.Long;

        // With the checks skipped, RPL < CPL takes this path too, and the CPL becomes RPL.
        if (rpl <= cpu.Cpl)
        {
            ulong sameLevelTarget = ReturnOffset(code, offset, to64);
            cpu.StackPointer += (ulong)(2 * size) + imm;
            cpu.CommitCodeSegment(selector, code, rpl);
            cpu.Rip = sameLevelTarget;
            return;
        }

        int depth = (2 * size) + (int)imm;
        ulong newSp = cpu.PeekStack(depth, size);
        ushort ssSelector = (ushort)cpu.PeekStack(depth + size, size);
        SegmentDescriptor? stack = cpu.LongMode
            ? cpu.CheckLongModeReturnStack(ssSelector, rpl, to64)
            : cpu.CheckReturnStackSegment(ssSelector, rpl);
        ulong target = ReturnOffset(code, offset, to64);
        cpu.CommitCodeSegment(selector, code, rpl);
        if (stack is { } ss)
        {
            cpu.SetAccessed(ssSelector, ss);
            cpu.Segments[X86Cpu.SS].Load(ssSelector, ss);
        }
        else
        {
            cpu.Segments[X86Cpu.SS].LoadNull(ssSelector);
        }

        cpu.StackPointer = newSp + imm;
        cpu.NullifyInaccessibleDataSegments();
        cpu.Rip = target;
    }

    /// <summary>SDM vol. 2, RET: the checks on the return CS, privilege ones skipped under quirk xsa-110.</summary>
    private static SegmentDescriptor ReturnCodeSegment(HvmEmulator e, ushort selector)
    {
        var cpu = e.Cpu;
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        uint error = CpuFault.SelectorError(selector);
        var d = cpu.ReadDescriptor(selector);
        if (!d.IsCode)
            throw CpuFault.GP(error);
        int rpl = selector & 3;
        bool allowed = rpl >= cpu.Cpl && (d.Conforming ? d.Dpl <= rpl : d.Dpl == rpl);
        if (!allowed && !SkipsPrivilegeChecks(e))
            throw CpuFault.GP(error);
        if (cpu.LongMode && d.Long && d.DefaultBig)
            throw CpuFault.GP(error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        return d;
    }

    /// <summary>
    /// The new IP of a far JMP/CALL (SDM vol. 2, JMP/CALL): canonical for a 64-bit target;
    /// otherwise (32 bits of it in IA-32e mode) within the code segment's limit; else #GP(0).
    /// </summary>
    private static ulong TargetOffset(X86Cpu cpu, SegmentDescriptor code, ulong offset)
    {
        if (cpu.LongMode && code.Long)
            return X86Cpu.IsCanonical(offset) ? offset : throw CpuFault.GP(0);
        if (cpu.LongMode)
            offset &= 0xFFFFFFFF;
        return offset <= code.EffectiveLimit ? offset : throw CpuFault.GP(0);
    }

    /// <summary>SDM vol. 2, RET: canonical for a return to 64-bit code, else within the code segment's limit (#GP(0)).</summary>
    private static ulong ReturnOffset(SegmentDescriptor code, ulong offset, bool to64)
    {
        bool valid = to64 ? X86Cpu.IsCanonical(offset) : offset <= code.EffectiveLimit;
        return valid ? offset : throw CpuFault.GP(0);
    }
}
