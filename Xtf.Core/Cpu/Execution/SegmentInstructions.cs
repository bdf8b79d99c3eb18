using Iced.Intel;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// Far-pointer loads LDS/LES/LFS/LGS/LSS, and the selector instructions ARPL, LAR, LSL, VERR and
/// VERW (SDM vol. 2; vol. 3, 5.10.4). The selector instructions are #UD in real-address and
/// virtual-8086 mode and report through ZF alone: a selector they may not look at is ZF = 0, never a fault.
/// </summary>
internal static class SegmentInstructions
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Lds, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.DS));
        add(Mnemonic.Les, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.ES));
        add(Mnemonic.Lfs, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.FS));
        add(Mnemonic.Lgs, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.GS));
        add(Mnemonic.Lss, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.SS));
        add(Mnemonic.Arpl, Arpl);
        add(Mnemonic.Lar, Lar);
        add(Mnemonic.Lsl, Lsl);
        add(Mnemonic.Verr, (X86Cpu c, in Instruction i) => Verify(c, i, write: false));
        add(Mnemonic.Verw, (X86Cpu c, in Instruction i) => Verify(c, i, write: true));
    }

    /// <summary>Reads offset then selector from m16:16/32/64, loads the segment, then the register.</summary>
    private static void LoadFarPointer(X86Cpu cpu, in Instruction i, int seg)
    {
        if (i.Op1Kind != OpKind.Memory)
            throw CpuFault.UD();
        int size = i.Op0Register.GetSize();
        int mseg = X86Cpu.MemorySegment(i);
        ulong ea = cpu.EffectiveAddress(i);
        ulong offset = cpu.ReadLogical(mseg, ea, size);
        ushort selector = (ushort)cpu.ReadLogical(mseg, (ea + (ulong)size) & X86Cpu.SizeMask(cpu.AddressSize(i)), 2);
        cpu.LoadSegment(seg, selector);
        cpu.WriteRegister(i.Op0Register, offset);
    }

    private static void RequireProtectedMode(X86Cpu cpu)
    {
        if (!cpu.ProtectedMode || cpu.Virtual8086)
            throw CpuFault.UD();
    }

    private static void SetZf(X86Cpu cpu, bool zf) =>
        cpu.Eflags = zf ? cpu.Eflags | RFlags.ZF : cpu.Eflags & ~RFlags.ZF;

    /// <summary>
    /// ARPL r/m16, r16 (SDM: ARPL): if the destination selector's RPL is below the source's, it is
    /// raised to it and ZF = 1; otherwise the destination is not written and ZF = 0.
    /// </summary>
    private static void Arpl(X86Cpu cpu, in Instruction i)
    {
        RequireProtectedMode(cpu);
        var dest = cpu.ResolveDestination(i, 0, 2);
        ulong value = cpu.Read(dest);
        int srcRpl = (int)cpu.ReadOperand(i, 1, 2) & 3;
        bool adjust = (int)(value & 3) < srcRpl;
        if (adjust)
            cpu.Write(dest, (value & ~3ul) | (uint)srcRpl);
        SetZf(cpu, adjust);
    }

    /// <summary>
    /// The descriptor LAR, LSL, VERR and VERW may inspect (SDM: LAR, "checks"): not for a null
    /// selector or one beyond its table's limit, nor (except conforming code) one whose DPL is
    /// below CPL or the selector's RPL. Table reads may fault (#PF); a bad selector never does.
    /// </summary>
    private static SegmentDescriptor? VisibleDescriptor(X86Cpu cpu, ushort selector)
    {
        if ((selector & 0xFFFC) == 0)
            return null;
        SegmentDescriptor d;
        try
        {
            d = cpu.ReadDescriptor(selector);
        }
        catch (CpuFault fault) when (fault.Vector == X86Vector.GP)
        {
            return null;
        }

        if (!d.Conforming && (cpu.Cpl > d.Dpl || (selector & 3) > d.Dpl))
            return null;
        return d;
    }

    /// <summary>
    /// LAR (SDM: LAR, table "Segment and Gate Types"): every code and data segment; of system
    /// descriptors, TSSs (available or busy), LDTs, call gates and task gates, not interrupt or
    /// trap gates. In IA-32e mode only the LDT, 64-bit TSSs and call gates. The result is dword 2
    /// of the descriptor masked with 0x00F0FF00 (0xFF00 with a 16-bit operand); ZF = 1.
    /// </summary>
    private static void Lar(X86Cpu cpu, in Instruction i)
    {
        RequireProtectedMode(cpu);
        ushort selector = (ushort)cpu.ReadOperand(i, 1, 2);
        if (VisibleDescriptor(cpu, selector) is not { } d || !(d.IsCodeOrData || ValidForLar(cpu, d.Type)))
        {
            SetZf(cpu, false);
            return;
        }

        int size = X86Cpu.OperandSize(i, 0);
        ulong rights = (d.Raw >> 32) & (size == 2 ? 0xFF00ul : 0x00F0FF00ul);
        cpu.WriteOperand(i, 0, size, rights);
        SetZf(cpu, true);
    }

    private static bool ValidForLar(X86Cpu cpu, int type) => cpu.LongMode
        ? type is SystemDescriptorType.Ldt or SystemDescriptorType.Tss32Available or SystemDescriptorType.Tss32Busy
            or SystemDescriptorType.CallGate32
        : type is SystemDescriptorType.Tss16Available or SystemDescriptorType.Ldt or SystemDescriptorType.Tss16Busy
            or SystemDescriptorType.CallGate16 or SystemDescriptorType.TaskGate or SystemDescriptorType.Tss32Available
            or SystemDescriptorType.Tss32Busy or SystemDescriptorType.CallGate32;

    /// <summary>
    /// LSL (SDM: LSL): every code and data segment, TSSs and LDTs (no gates: they have no limit).
    /// The result is the byte-granular limit (scaled by G), truncated to a 16-bit operand; ZF = 1.
    /// </summary>
    private static void Lsl(X86Cpu cpu, in Instruction i)
    {
        RequireProtectedMode(cpu);
        ushort selector = (ushort)cpu.ReadOperand(i, 1, 2);
        if (VisibleDescriptor(cpu, selector) is not { } d || !(d.IsCodeOrData || ValidForLsl(cpu, d.Type)))
        {
            SetZf(cpu, false);
            return;
        }

        cpu.WriteOperand(i, 0, X86Cpu.OperandSize(i, 0), d.EffectiveLimit);
        SetZf(cpu, true);
    }

    private static bool ValidForLsl(X86Cpu cpu, int type) => cpu.LongMode
        ? type is SystemDescriptorType.Ldt or SystemDescriptorType.Tss32Available or SystemDescriptorType.Tss32Busy
        : type is SystemDescriptorType.Tss16Available or SystemDescriptorType.Ldt or SystemDescriptorType.Tss16Busy
            or SystemDescriptorType.Tss32Available or SystemDescriptorType.Tss32Busy;

    /// <summary>
    /// VERR/VERW (SDM: VERR/VERW): ZF = 1 if the selector names a code or data segment visible at
    /// CPL and RPL that is readable (VERR: data, or readable code) or writable (VERW: writable
    /// data); system descriptors give ZF = 0. Presence is not checked.
    /// </summary>
    private static void Verify(X86Cpu cpu, in Instruction i, bool write)
    {
        RequireProtectedMode(cpu);
        ushort selector = (ushort)cpu.ReadOperand(i, 0, 2);
        bool ok = VisibleDescriptor(cpu, selector) is { } d && d.IsCodeOrData && (write ? d.Writable : d.Readable);
        SetZf(cpu, ok);
    }
}
