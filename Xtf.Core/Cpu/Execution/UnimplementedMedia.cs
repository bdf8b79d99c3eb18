using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// The x87, MMX and SSE instructions the CPU advertises (CPUID.1:EDX FPU, MMX, SSE) but does not
/// implement. Their enabling rules still come first, so a guest switching CR0.EM/MP/TS or
/// CR4.OSFXSR sees the architectural #NM or #UD; only an instruction that passes them ends in #UD
/// as not implemented (an honest gap of the model, never a silent success).
/// </summary>
internal static class UnimplementedMedia
{
    public static void CheckEnabled(X86Cpu cpu, in Instruction insn)
    {
        if (insn.Encoding != EncodingKind.Legacy)
            return;
        var features = insn.Code.CpuidFeatures();
        if (features.Length != 1)
            return;
        switch (features[0])
        {
            case CpuidFeature.FPU:
                cpu.CheckX87Available();
                break;
            case CpuidFeature.MMX:
                cpu.CheckMmxAvailable();
                break;
            case CpuidFeature.SSE:
                cpu.CheckSseAvailable();
                break;
        }
    }
}
