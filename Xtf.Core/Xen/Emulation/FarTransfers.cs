using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// Far JMP, far CALL and far RET in the emulator. The fixed emulator shares the processor's
/// semantics (<see cref="X86Cpu.ExecuteInstruction"/>). Under quirk xsa-110 a protected-mode far
/// branch loads CS the way x86_emulate's protmode_load_seg did before Xen 82fa062345 ("x86emul:
/// enforce privilege level restrictions when loading CS", XSA-110, CVE-2014-8595), in its order:
/// a null selector #GP(0); beyond the table limit #GP(selector); not present #NP(selector); a
/// system descriptor (call gate, task gate, TSS: the old code had none) or data #GP(selector);
/// and for a nonconforming segment only DPL = RPL (#GP(selector)), the one privilege check the fix
/// found ("solely covering ... return to non-conforming segment"). The fix added, and the quirk
/// drops: RPL &lt;= CPL and DPL = CPL for nonconforming targets, DPL &lt;= CPL for conforming
/// ones, RPL = CPL on RET, the L-and-D check in IA-32e mode, and forcing the loaded selector's RPL
/// to the CPL. The CPL itself did not follow CS: protmode_load_seg took it from SS
/// (<c>cpl = ss.attr.fields.dpl</c>) and so did the HVM code (VMX: SS.DPL; SVM: VMCB.CPL, set on
/// SS loads), so a CPL 3 branch onto the kernel's ring-0 code segment runs kernel code with the
/// ring-0 descriptor in CS at CPL 3 (SVM). Our processor keeps the CPL in CS.RPL, so the loaded
/// selector shows RPL = CPL where SVM would show the branch's RPL 0; on VMX the resulting state
/// fails the VM-entry checks (CS.DPL = SS.DPL) and Xen crashes the domain. RETF pops CS:EIP and
/// never an outer SS:ESP (the old emulator did not change privilege on returns). The new IP is
/// checked against the limit (canonical in 64-bit code), as the next instruction fetch would.
/// Real-address and virtual-8086 mode and near branches keep the processor's semantics.
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
    /// JMP/CALL ptr16:16/32 and m16:16/32/64 under quirk xsa-110: CS loaded with the checks of
    /// <see cref="LoadCodeSegmentBefore82fa062345"/>, the CPL unchanged. CALL needs room for the
    /// return CS:IP (#SS(0)) before the offset check (#GP(0)).
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
        var d = LoadCodeSegmentBefore82fa062345(cpu, selector);
        if (call)
            cpu.CheckStackWritable(2 * size);
        ulong target = TargetOffset(cpu, d, offset & X86Cpu.SizeMask(size));

        if (call)
        {
            cpu.Push(cpu.Segments[X86Cpu.CS].Selector, size);
            cpu.Push(e.NextIp(in i) & X86Cpu.SizeMask(size), size);
        }

        cpu.CommitCodeSegment(selector, d, cpu.Cpl);
        cpu.Rip = target;
    }

    /// <summary>
    /// RETF and RETF imm16 under quirk xsa-110, as x86_emulate's <c>case 0xca/0xcb</c> did before
    /// 82fa062345: pop EIP, pop CS, load CS (<see cref="LoadCodeSegmentBefore82fa062345"/>), release
    /// the immediate; no outer-level return.
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
        ulong imm = i.Op0Kind == OpKind.Immediate16 ? i.Immediate16 : 0u;
        ulong offset = cpu.PeekStack(0, size);
        ushort selector = (ushort)cpu.PeekStack(size, size);
        var d = LoadCodeSegmentBefore82fa062345(cpu, selector);
        ulong target = TargetOffset(cpu, d, offset);
        cpu.StackPointer += (ulong)(2 * size) + imm;
        cpu.CommitCodeSegment(selector, d, cpu.Cpl);
        cpu.Rip = target;
    }

    /// <summary>
    /// protmode_load_seg's checks for CS before Xen 82fa062345 (x86_emulate.c: the NULL selector,
    /// descriptor table limit, present, S flag, then <c>case x86_seg_cs</c>: code, and
    /// <c>((desc.b &amp; (6u&lt;&lt;9)) != (6u&lt;&lt;9)) &amp;&amp; (dpl != rpl)</c> for
    /// nonconforming segments); every failure is #GP(selector) but the null one (#GP(0)) and
    /// not-present (#NP(selector)).
    /// </summary>
    private static SegmentDescriptor LoadCodeSegmentBefore82fa062345(X86Cpu cpu, ushort selector)
    {
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        uint error = CpuFault.SelectorError(selector);
        var d = cpu.ReadDescriptor(selector);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        if (d.IsSystem || !d.IsCode)
            throw CpuFault.GP(error);
        if (!d.Conforming && d.Dpl != (selector & 3))
            throw CpuFault.GP(error);
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
