namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>
/// Reporting the SIMD floating-point exceptions of one instruction, all lanes together (SDM
/// vol. 1, 11.5.1 and 11.5.3; vol. 3, 6.15 interrupt 19):
/// <list type="number">
/// <item>If any lane raised an unmasked pre-computation exception (IE, DE, ZE), the
/// pre-computation flags of every lane are set in MXCSR, no result is written and
/// post-computation exceptions are not reported.</item>
/// <item>Otherwise, if any lane raised an unmasked post-computation exception (OE, UE, PE), all
/// flags are set and no result is written.</item>
/// <item>Otherwise all flags are set and the masked responses are written.</item>
/// </list>
/// An unmasked exception is #XM when CR4.OSXMMEXCPT is set and #UD when it is clear (vol. 3,
/// 13.1.6 and 6.15: "#UD if CR4.OSXMMEXCPT = 0"); either way a fault, the destination unchanged.
/// </summary>
internal static class SimdException
{
    /// <summary>Sets the flags of <paramref name="flags"/> in MXCSR, throwing the fault if one of them is unmasked.</summary>
    public static void Signal(X86Cpu cpu, uint flags)
    {
        uint pre = flags & Mxcsr.PreComputation;
        if (Mxcsr.Unmasked(cpu.Mxcsr, pre) != 0)
        {
            cpu.Mxcsr |= pre;
            throw Fault(cpu);
        }

        cpu.Mxcsr |= flags & Mxcsr.Flags;
        if (Mxcsr.Unmasked(cpu.Mxcsr, flags) != 0)
            throw Fault(cpu);
    }

    private static CpuFault Fault(X86Cpu cpu) =>
        (cpu.Cr4Value & Cr4.OSXMMEXCPT) != 0 ? new CpuFault(X86Vector.XM) : CpuFault.UD();
}
