namespace Xtf.Core.Xen.Viridian;

/// <summary>The Hyper-V synthetic MSRs Xen knows (xen/arch/x86/include/asm/guest/hyperv-tlfs.h).</summary>
public static class ViridianMsr
{
    /// <summary>HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL, HV_X64_MSR_VP_INDEX.</summary>
    public const uint GuestOsId = 0x40000000, Hypercall = 0x40000001, VpIndex = 0x40000002;

    /// <summary>HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY.</summary>
    public const uint TimeRefCount = 0x40000020, ReferenceTsc = 0x40000021, TscFrequency = 0x40000022, ApicFrequency = 0x40000023;

    /// <summary>HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR, HV_X64_MSR_VP_ASSIST_PAGE.</summary>
    public const uint Eoi = 0x40000070, Icr = 0x40000071, Tpr = 0x40000072, VpAssistPage = 0x40000073;

    /// <summary>HV_X64_MSR_SCONTROL, _SVERSION, _SIEFP, _SIMP, _EOM, _SINT0 (to _SINT15 = 0x4000009F).</summary>
    public const uint Scontrol = 0x40000080, Sversion = 0x40000081, Siefp = 0x40000082, Simp = 0x40000083, Eom = 0x40000084, Sint0 = 0x40000090;

    /// <summary>HV_X64_MSR_STIMER0_CONFIG; CONFIG and COUNT alternate up to HV_X64_MSR_STIMER3_COUNT (0x400000B7).</summary>
    public const uint Stimer0Config = 0x400000B0, Stimer3Count = 0x400000B7;

    /// <summary>HV_X64_MSR_CRASH_P0 (to _P4 = 0x40000104) and HV_X64_MSR_CRASH_CTL.</summary>
    public const uint CrashP0 = 0x40000100, CrashCtl = 0x40000105;

    /// <summary>The range msr.c sends to guest_{rd,wr}msr_viridian in a viridian domain ("case 0x40000000 ... 0x400001ff").</summary>
    public const uint RangeFirst = 0x40000000, RangeLast = 0x400001FF;

    /// <summary>HV_CRASH_CTL_REG_CONTENTS.CrashNotify, bit 63.</summary>
    public const ulong CrashNotify = 1ul << 63;
}
