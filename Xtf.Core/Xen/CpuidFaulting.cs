using Xtf.Core.Cpu;

namespace Xtf.Core.Xen;

/// <summary>
/// CPUID faulting as Xen virtualises it for a guest (xen/arch/x86/msr.c guest_rdmsr/guest_wrmsr,
/// the guest's misc_features_enables): MSR_INTEL_PLATFORM_INFO (0xCE) is read-only and reports
/// bit 31, "CPUID faulting supported" (always for HVM; for PV when the hardware has it, which
/// this machine's does: cpu-policy.c); bit 0 of MSR_INTEL_MISC_FEATURES_ENABLES (0x140) switches
/// it on, and then CPUID outside the guest kernel is #GP(0), the instruction not retired. Every
/// other bit of 0x140 is reserved: a write setting one is #GP(0).
/// </summary>
public sealed class CpuidFaulting
{
    /// <summary>MSR_INTEL_PLATFORM_INFO (0xCE), read-only.</summary>
    public const uint MsrPlatformInfo = X86Cpu.MsrPlatformInfo;
    /// <summary>MSR_INTEL_MISC_FEATURES_ENABLES (0x140).</summary>
    public const uint MsrMiscFeaturesEnables = X86Cpu.MsrMiscFeaturesEnables;

    /// <summary>MSR_PLATFORM_INFO_CPUID_FAULTING: the only bit of PLATFORM_INFO Xen shows a guest.</summary>
    public const ulong PlatformInfoCpuidFaulting = X86Cpu.PlatformInfoCpuidFaulting;

    /// <summary>MSR_MISC_FEATURES_CPUID_FAULTING.</summary>
    public const ulong MiscFeaturesCpuidFaulting = X86Cpu.MiscFeaturesCpuidFaulting;

    private ulong miscFeaturesEnables;

    /// <summary>Whether the guest has switched faulting on (MISC_FEATURES_ENABLES bit 0).</summary>
    public bool Enabled => (miscFeaturesEnables & MiscFeaturesCpuidFaulting) != 0;

    /// <summary>Whether <paramref name="msr"/> is one of the two MSRs this feature owns.</summary>
    public static bool Owns(uint msr) => msr is MsrPlatformInfo or MsrMiscFeaturesEnables;

    /// <summary>RDMSR of an owned MSR: both are readable at any time.</summary>
    public ulong Read(uint msr) => msr == MsrPlatformInfo ? PlatformInfoCpuidFaulting : miscFeaturesEnables;

    /// <summary>WRMSR of an owned MSR; false means #GP(0) (PLATFORM_INFO is read-only; reserved bits of 0x140).</summary>
    public bool TryWrite(uint msr, ulong value)
    {
        if (msr == MsrPlatformInfo || (value & ~MiscFeaturesCpuidFaulting) != 0)
            return false;
        miscFeaturesEnables = value;
        return true;
    }

    /// <summary>
    /// The CPUID intercept's first check for an HVM guest (hvm_vmexit_cpuid; x86_emulate's CPUID
    /// for the emulated path): with faulting on, CPUID at CPL &gt; 0 (virtual-8086 mode included) is #GP(0).
    /// </summary>
    public void CheckCpuid(X86Cpu cpu) => CheckCpuid(guestKernel: cpu.Cpl == 0);

    /// <summary>
    /// The same check where "the guest kernel" is not CPL 0 (a PV guest: x86_emulate's
    /// mode_ring0(), pv_emulate_forced_invalid_op's guest_kernel_mode()).
    /// </summary>
    public void CheckCpuid(bool guestKernel)
    {
        if (Enabled && !guestKernel)
            throw CpuFault.GP(0);
    }
}
