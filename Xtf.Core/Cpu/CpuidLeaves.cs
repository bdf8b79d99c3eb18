namespace Xtf.Core.Cpu;

/// <summary>The CPUID leaves the emulated processor reports (SDM vol. 2, CPUID).</summary>
public static class CpuidLeaves
{
    /// <summary>
    /// CPUID.1:EDX features the CPU implements: FPU (bit 0), PSE (4 MiB pages), TSC, MSR, PAE, CX8,
    /// SEP (SYSENTER/SYSEXIT), PGE (global pages), CMOV, CLFSH (bit 19, CLFLUSH), MMX (bit 23), FXSR (bit 24) and SSE
    /// (bit 25). The x87, MMX and SSE units model their state and enabling rules (CR0.EM/MP/TS,
    /// CR4.OSFXSR) with the control, data-movement and state instructions only (see
    /// Execution/FloatingPoint.cs and MediaInstructions.cs). No SSE2 (bit 26), XSAVE or AVX.
    /// </summary>
    public const uint Leaf1Edx = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 11) | (1u << 13)
        | (1u << 15) | (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25);

    /// <summary>CPUID.1:ECX features the CPU implements: CX16 (bit 13, CMPXCHG16B), MOVBE (bit 22) and POPCNT (bit 23, Execution/BitManipulation.cs).</summary>
    public const uint Leaf1Ecx = (1u << 13) | (1u << 22) | (1u << 23);

    /// <summary>CPUID.1:EBX bits 15:8, the CLFLUSH line size in 8-byte units (SDM vol. 2, CPUID): 8, a 64-byte line. Other EBX fields are 0.</summary>
    public const uint Leaf1Ebx = 8u << 8;

    /// <summary>CPUID.(7,0):EBX: FSGSBASE (bit 0), BMI1 (bit 3: ANDN, BEXTR, BLSI, BLSMSK, BLSR, TZCNT), SMEP (bit 7) and SMAP (bit 20).</summary>
    public const uint Leaf7Ebx = (1u << 0) | (1u << 3) | (1u << 7) | (1u << 20);

    /// <summary>CPUID.(7,0):ECX: UMIP (bit 2), user-mode instruction prevention (SDM vol. 3, 2.5, CR4.UMIP).</summary>
    public const uint Leaf7Ecx = 1u << 2;

    /// <summary>CPUID.80000001H:ECX: LAHF/SAHF in 64-bit mode (bit 0) and LZCNT (bit 5).</summary>
    public const uint Extended1Ecx = (1u << 0) | (1u << 5);

    /// <summary>CPUID.80000001H:EDX: SYSCALL/SYSRET (bit 11), NX (bit 20), 1-GByte pages (bit 26), Intel 64 (LM, bit 29).</summary>
    public const uint Extended1Edx = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 29);

    /// <summary>MAXPHYADDR, reported in CPUID.80000008H:EAX[7:0]: paging-structure bits above it are reserved.</summary>
    public const int PhysicalAddressBits = 40;

    /// <summary>Linear-address width, CPUID.80000008H:EAX[15:8].</summary>
    public const int LinearAddressBits = 48;

    /// <summary>1-GByte pages in 4-level paging (CPUID.80000001H:EDX.Page1GB).</summary>
    public const bool Pages1G = (Extended1Edx & (1u << 26)) != 0;

    /// <summary>CPUID as bare hardware answers it for EAX=<paramref name="leaf"/>, ECX=<paramref name="subleaf"/>: "GenuineIntel", max basic leaf 7 and max extended leaf 80000008H, no hypervisor bit (CPUID.1:ECX[31] clear); leaves not listed return all zeros.</summary>
    public static CpuidResult Native(uint leaf, uint subleaf) => leaf switch
    {
        // Max basic leaf 7, vendor "GenuineIntel" (EBX, EDX, ECX).
        0 => new CpuidResult(7, 0x756E6547, 0x6C65746E, 0x49656E69),
        // Family 6, model 0x3A-like signature; no hypervisor bit on bare hardware.
        1 => new CpuidResult(0x000306A9, Leaf1Ebx, Leaf1Ecx, Leaf1Edx),
        7 => subleaf == 0 ? new CpuidResult(0, Leaf7Ebx, Leaf7Ecx, 0) : default,
        0x80000000 => new CpuidResult(0x80000008, 0, 0, 0),
        0x80000001 => new CpuidResult(0, 0, Extended1Ecx, Extended1Edx),
        0x80000008 => new CpuidResult(PhysicalAddressBits | (LinearAddressBits << 8), 0, 0, 0),
        _ => default,
    };
}
