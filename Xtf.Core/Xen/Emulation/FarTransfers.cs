using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// Far JMP, far CALL and far RET in the emulator. The fixed emulator shares the processor's
/// semantics (<see cref="X86Cpu.ExecuteInstruction"/>). XSA-110: Xen's CS load (protmode_load_seg)
/// lacked the privilege checks (DPL against CPL and RPL), so CPL 3 code could far-branch onto a
/// ring-0 code segment and run there at CPL 0. Under quirk xsa-110 the emulator loads a code
/// segment target itself with the SDM's other checks in their order (null #GP(0); beyond the
/// table limit, or not code, #GP(selector); in IA-32e mode L and D both set #GP(selector); not
/// present #NP(selector); then the offset) and the CPL becomes the target's DPL (RET: the RPL).
/// Call gates, task gates, TSS descriptors, real-address and virtual-8086 mode and near branches
/// keep the processor's semantics under the quirk too.
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
    /// JMP/CALL ptr16:16/32 and m16:16/32/64 to a code segment under quirk xsa-110 (SDM vol. 2, JMP
    /// and CALL: CONFORMING-CODE-SEGMENT and NONCONFORMING-CODE-SEGMENT without the DPL/RPL
    /// checks). CALL needs room for the return CS:IP (#SS(0)) before the offset check (#GP(0)).
    /// </summary>
    private static void Branch(HvmEmulator e, in Instruction i, bool call)
    {
        var cpu = e.Cpu;
        bool far = call ? i.IsCallFar || i.IsCallFarIndirect : i.IsJmpFar || i.IsJmpFarIndirect;
        if (!far || !Protected(cpu) || !SkipsPrivilegeChecks(e))
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

        // With the checks skipped, a nonconforming target's DPL becomes the CPL.
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
        if (!Protected(cpu) || !SkipsPrivilegeChecks(e))
        {
            cpu.ExecuteInstruction(in i);
            return;
        }

        int size = ControlTransfer.RetSize(in i);
        var code = ReturnCodeSegment(e, (ushort)cpu.PeekStack(size, size));
        ControlTransfer.FarReturn(cpu, in i, code);
        cpu.Rip = cpu.NextRip;
    }

    /// <summary>SDM vol. 2, RET: the checks on the return CS, without the privilege ones (quirk xsa-110).</summary>
    private static SegmentDescriptor ReturnCodeSegment(HvmEmulator e, ushort selector)
    {
        var cpu = e.Cpu;
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        uint error = CpuFault.SelectorError(selector);
        var d = cpu.ReadDescriptor(selector);
        if (!d.IsCode)
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
}
