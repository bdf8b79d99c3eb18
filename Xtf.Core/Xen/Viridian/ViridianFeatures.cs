namespace Xtf.Core.Xen.Viridian;

/// <summary>
/// HVM_PARAM_VIRIDIAN's feature bits, the HVMPV_* of xen/include/public/hvm/params.h. A domain
/// is a viridian domain when <see cref="BaseFreq"/> is set (xen/arch/x86/include/asm/hvm/hvm.h,
/// is_viridian_domain); hvm_allow_set_param refuses a non-zero mask without it, or with a bit
/// outside <see cref="ViridianFeatureMask.All"/> (-EINVAL).
/// </summary>
[Flags]
public enum ViridianFeatures : ulong
{
    /// <summary>No enlightenment: the domain is not a viridian domain.</summary>
    None = 0,

    /// <summary>_HVMPV_base_freq 0: the hypercall MSRs, APIC access MSRs, VP index and (unless <see cref="NoFreq"/>) the frequency MSRs.</summary>
    BaseFreq = 1ul << 0,

    /// <summary>_HVMPV_no_freq 1: hide the frequency MSRs (HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY).</summary>
    NoFreq = 1ul << 1,

    /// <summary>_HVMPV_time_ref_count 2: HV_X64_MSR_TIME_REF_COUNT.</summary>
    TimeRefCount = 1ul << 2,

    /// <summary>_HVMPV_reference_tsc 3: HV_X64_MSR_REFERENCE_TSC and its page.</summary>
    ReferenceTsc = 1ul << 3,

    /// <summary>_HVMPV_hcall_remote_tlb_flush 4.</summary>
    HcallRemoteTlbFlush = 1ul << 4,

    /// <summary>_HVMPV_apic_assist 5.</summary>
    ApicAssist = 1ul << 5,

    /// <summary>_HVMPV_crash_ctl 6: the crash MSRs are advertised in CPUID leaf 3.</summary>
    CrashCtl = 1ul << 6,

    /// <summary>_HVMPV_synic 7: the synthetic interrupt controller MSRs.</summary>
    Synic = 1ul << 7,

    /// <summary>_HVMPV_stimer 8: the synthetic timer MSRs.</summary>
    Stimer = 1ul << 8,

    /// <summary>_HVMPV_hcall_ipi 9.</summary>
    HcallIpi = 1ul << 9,

    /// <summary>_HVMPV_ex_processor_masks 10.</summary>
    ExProcessorMasks = 1ul << 10,

    /// <summary>_HVMPV_no_vp_limit 11: CPUID leaf 5 EAX = -1.</summary>
    NoVpLimit = 1ul << 11,

    /// <summary>_HVMPV_cpu_hotplug 12.</summary>
    CpuHotplug = 1ul << 12,
}

/// <summary>HVMPV_feature_mask: every defined bit.</summary>
public static class ViridianFeatureMask
{
    /// <summary>The union of the HVMPV_* bits (params.h HVMPV_feature_mask).</summary>
    public const ViridianFeatures All = (ViridianFeatures)((1ul << 13) - 1);

    /// <summary>
    /// hvm_allow_set_param's check of HVM_PARAM_VIRIDIAN (xen/arch/x86/hvm/hvm.c): a bit outside
    /// <see cref="All"/>, or no <see cref="ViridianFeatures.BaseFreq"/>, is -EINVAL. (libxl sets the
    /// parameter only when its mask is non-zero, so 0 never reaches this check.)
    /// </summary>
    public static bool IsValid(ViridianFeatures mask) =>
        (mask & ~All) == 0 && (mask & ViridianFeatures.BaseFreq) != 0;
}
