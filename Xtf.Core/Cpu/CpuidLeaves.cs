namespace Xtf.Core.Cpu;

/// <summary>The CPUID leaves the emulated processor reports (SDM vol. 2, CPUID).</summary>
public static class CpuidLeaves
{
    /// <summary>CPUID.1:EDX features the CPU implements: FPU-less integer core with TSC, MSR, CX8, CMOV.</summary>
    public const uint Leaf1Edx = (1u << 4) | (1u << 5) | (1u << 8) | (1u << 15);

    public static CpuidResult Native(uint leaf, uint subleaf)
    {
        _ = subleaf;
        return leaf switch
        {
            // Max basic leaf 1, vendor "GenuineIntel" (EBX, EDX, ECX).
            0 => new CpuidResult(1, 0x756E6547, 0x6C65746E, 0x49656E69),
            // Family 6, model 0x3A-like signature; no hypervisor bit on bare hardware.
            1 => new CpuidResult(0x000306A9, 0, 0, Leaf1Edx),
            0x80000000 => new CpuidResult(0x80000001, 0, 0, 0),
            0x80000001 => new CpuidResult(0, 0, 0, 0),
            _ => new CpuidResult(0, 0, 0, 0),
        };
    }
}
