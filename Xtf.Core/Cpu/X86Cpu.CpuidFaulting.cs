namespace Xtf.Core.Cpu;

/// <summary>
/// CPUID faulting, the processor feature (Intel's "Virtualization Technology FlexMigration"
/// application note, document 323850; Xen: probe_cpuid_faulting and set_cpuid_faulting in
/// xen/arch/x86/cpu/common.c). This CPU's part, Ivy Bridge (family 6 model 0x3A), has it:
/// MSR_PLATFORM_INFO (0xCE) bit 31 reports it, and bit 0 of MSR_MISC_FEATURES_ENABLES (0x140)
/// switches it on, after which CPUID at CPL &gt; 0 is #GP(0) and does not execute. A hypervisor
/// uses it to see a PV guest's CPUIDs (Xen switches it on for every PV domain it runs).
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>MSR_PLATFORM_INFO (CEH), read-only.</summary>
    public const uint MsrPlatformInfo = 0xCE;

    /// <summary>MSR_MISC_FEATURES_ENABLES (140H).</summary>
    public const uint MsrMiscFeaturesEnables = 0x140;

    /// <summary>MSR_PLATFORM_INFO bit 31: CPUID faulting is supported.</summary>
    public const ulong PlatformInfoCpuidFaulting = 1ul << 31;

    /// <summary>MSR_MISC_FEATURES_ENABLES bit 0: CPUID faulting is on.</summary>
    public const ulong MiscFeaturesCpuidFaulting = 1ul << 0;

    /// <summary>
    /// What RDMSR of MSR_PLATFORM_INFO returns: the CPUID-faulting bit. The ratio and
    /// programmability fields of the real part (bits 15:8, 28-30, 47:40) read as 0: this machine
    /// has no clock ratios to report.
    /// </summary>
    public const ulong PlatformInfoValue = PlatformInfoCpuidFaulting;

    /// <summary>MSR_MISC_FEATURES_ENABLES as last written (bit 0 is the only one the part implements).</summary>
    public ulong MiscFeaturesEnables { get; private set; }

    /// <summary>
    /// WRMSR to MSR_MISC_FEATURES_ENABLES: any bit but CPUID faulting is reserved, #GP(0).
    /// MSR_PLATFORM_INFO is read-only, so a write to it is #GP(0) too.
    /// </summary>
    private void WriteMiscFeaturesEnables(ulong value)
    {
        if ((value & ~MiscFeaturesCpuidFaulting) != 0)
            throw CpuFault.GP(0);
        MiscFeaturesEnables = value;
    }

    /// <summary>CPUID's first check: with faulting on, CPUID at CPL &gt; 0 is #GP(0), before the instruction does anything.</summary>
    internal void CheckCpuidFaulting()
    {
        if ((MiscFeaturesEnables & MiscFeaturesCpuidFaulting) != 0 && Cpl > 0)
            throw CpuFault.GP(0);
    }
}
