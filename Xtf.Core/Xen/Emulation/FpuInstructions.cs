using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// x87, WAIT, MMX and SSE instructions in the emulator: Xen's <c>get_fpu</c>. x86_emulate asks for
/// the FPU by type before it runs such an instruction (x86emul_get_fpu with the HVM glue's
/// hvmemul_get_fpu, xen/arch/x86/x86_emulate/x86_emulate.c and hvm/emulate.c), raises the
/// exceptions the guest's CR0 and CR4 call for itself, and then executes the instruction on the
/// host's FPU, whose CR0.TS and CR0.EM are clear: the processor's own device-not-available checks
/// never see the guest's CR0. The semantics stay the processor's; the checks are the emulator's,
/// so a bug in them is a bug the guest sees (<see cref="Quirk.Xsa190"/>).
/// <para>VEX-encoded (AVX) instructions are not classified: this CPU has no AVX (issue 17), so they
/// are #UD as x86_emulate's <c>vcpu_must_have(avx)</c> makes them.</para>
/// </summary>
internal static class FpuInstructions
{
    /// <summary>x86_emulate's <c>enum x86_emulate_fpu_type</c> (x86_emulate.h), as far as this CPU goes.</summary>
    internal enum FpuType
    {
        None,

        /// <summary>X86EMUL_FPU_fpu: x87 instructions, FXSAVE/FXRSTOR.</summary>
        Fpu,

        /// <summary>X86EMUL_FPU_wait: WAIT/FWAIT (added by the XSA-190 fix; before it WAIT was an <see cref="Fpu"/>).</summary>
        Wait,

        /// <summary>X86EMUL_FPU_mmx: instructions on MMX registers only, and EMMS.</summary>
        Mmx,

        /// <summary>X86EMUL_FPU_xmm: instructions with an XMM register operand, LDMXCSR/STMXCSR.</summary>
        Xmm,
    }

    /// <summary>
    /// Emulates <paramref name="i"/> if it is an FPU instruction: the emulator's checks, then the
    /// instruction on the host FPU. False for any other instruction.
    /// </summary>
    public static bool TryEmulate(HvmEmulator e, in Instruction i)
    {
        var type = Classify(in i);
        if (type == FpuType.None)
            return false;

        GetFpu(e, type);

        // The stub runs with the host's CR0 (hvmemul_get_fpu made the vCPU's FPU state current,
        // host TS clear; Xen never sets host EM), so only the guest's CR4 and register state reach
        // the processor's checks. The guest's CR0 is the emulator's read_cr view, restored after.
        var cpu = e.Cpu;
        const ulong hostClear = Cr0.TS | Cr0.EM;
        ulong guest = cpu.Cr0Value & hostClear;
        cpu.Cr0Value &= ~hostClear;
        try
        {
            cpu.ExecuteInstruction(in i);
        }
        finally
        {
            cpu.Cr0Value = (cpu.Cr0Value & ~hostClear) | guest;
        }

        return true;
    }

    /// <summary>
    /// The FPU type x86_emulate requests for <paramref name="i"/> (its per-opcode <c>get_fpu</c>
    /// calls): WAIT; x87 escape opcodes (CPUID feature FPU) and FXSAVE/FXRSTOR; an XMM register
    /// operand or LDMXCSR/STMXCSR (an MMX register as well still makes it an SSE instruction, as
    /// CVTPI2PS is: SDM vol. 2, exception class 22, checks CR4.OSFXSR); MMX registers or EMMS.
    /// Prefetches, fences and MOVNTI carry an SSE feature bit but do not touch the FPU.
    /// </summary>
    internal static FpuType Classify(in Instruction i)
    {
        if (i.Encoding != EncodingKind.Legacy)
            return FpuType.None;
        switch (i.Mnemonic)
        {
            case Mnemonic.Wait:
                return FpuType.Wait;
            case Mnemonic.Emms:
                return FpuType.Mmx;
            case Mnemonic.Ldmxcsr or Mnemonic.Stmxcsr:
                return FpuType.Xmm;
            case Mnemonic.Fxsave or Mnemonic.Fxsave64 or Mnemonic.Fxrstor or Mnemonic.Fxrstor64:
                return FpuType.Fpu;
        }

        bool mmx = false;
        for (int n = 0; n < i.OpCount; n++)
        {
            if (i.GetOpKind(n) != OpKind.Register)
                continue;
            var r = i.GetOpRegister(n);
            if (r.IsXMM())
                return FpuType.Xmm;
            mmx |= r.IsMM();
        }

        if (mmx)
            return FpuType.Mmx;
        return Array.IndexOf(i.Code.CpuidFeatures(), CpuidFeature.FPU) >= 0 ? FpuType.Fpu : FpuType.None;
    }

    /// <summary>
    /// x86emul_get_fpu after hvmemul_get_fpu: for SSE, CR4.OSFXSR clear is #UD; then CR0.EM is #NM
    /// for x87 and #UD for MMX and SSE; then CR0.TS is #NM, for WAIT only with CR0.MP (SDM vol. 3,
    /// 2.5 table 2-2, 12.1 and 13.1; Xen 3ab81e0110 placed these in the emulator).
    /// <para>Under <see cref="Quirk.Xsa190"/> the checks are as before 3ab81e0110: x86_emulate made
    /// none, and hvmemul_get_fpu refused (X86EMUL_UNHANDLEABLE, injected as #UD under FEP) only an
    /// SSE instruction with CR0.EM set or CR4.OSFXSR clear, so x87, WAIT and MMX ran whatever the
    /// guest's CR0 said and SSE ran with CR0.TS set: no #NM for a guest's lazy FPU switch.</para>
    /// </summary>
    private static void GetFpu(HvmEmulator e, FpuType type)
    {
        ulong cr0 = e.Cpu.Cr0Value, cr4 = e.Cpu.Cr4Value;
        if (e.Options.Has(Quirk.Xsa190))
        {
            if (type == FpuType.Xmm && ((cr0 & Cr0.EM) != 0 || (cr4 & Cr4.OSFXSR) == 0))
                throw CpuFault.UD();
            return;
        }

        if (type == FpuType.Xmm && (cr4 & Cr4.OSFXSR) == 0)
            throw CpuFault.UD();
        if ((cr0 & Cr0.EM) != 0)
        {
            if (type == FpuType.Fpu)
                throw new CpuFault(X86Vector.NM);
            if (type is FpuType.Mmx or FpuType.Xmm)
                throw CpuFault.UD();
        }

        if ((cr0 & Cr0.TS) != 0 && (type != FpuType.Wait || (cr0 & Cr0.MP) != 0))
            throw new CpuFault(X86Vector.NM);
    }
}
