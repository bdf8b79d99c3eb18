using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Viridian;

/// <summary>
/// The Hyper-V CPUID leaves 0x40000000-0x400000FF of a viridian domain
/// (xen/arch/x86/hvm/viridian/viridian.c, cpuid_viridian_leaves). Xen's own leaves then sit at
/// <see cref="XenBase"/> (xen/arch/x86/cpuid.c, cpuid_hypervisor_leaves).
/// </summary>
public static class ViridianCpuid
{
    /// <summary>The first Hyper-V leaf.</summary>
    public const uint Base = 0x40000000;

    /// <summary>Where Xen's leaves move in a viridian domain ("base = is_viridian_domain(d) ? 0x40000100 : 0x40000000").</summary>
    public const uint XenBase = 0x40000100;

    /// <summary>Where Xen's hypercall-page MSR moves in a viridian domain (cpuid.c leaf 2 EBX, msr.c guest_wrmsr_xen).</summary>
    public const uint XenMsrBase = 0x40000200;

    /// <summary>Leaf 0 EAX: the largest Hyper-V leaf.</summary>
    public const uint MaxLeaf = 0x40000006;

    /// <summary>Leaf 0 EBX, ECX, EDX: "Microsoft Hv" as "Micr", "osof", "t Hv" (little-endian).</summary>
    public const uint SignatureEbx = 0x7263694D, SignatureEcx = 0x666F736F, SignatureEdx = 0x76482074;

    /// <summary>Leaf 1 EAX: the interface signature "Hv#1".</summary>
    public const uint InterfaceHv1 = 0x31237648;

    /// <summary>Leaf 2 (viridian_build, viridian_major.viridian_minor): Windows Server 2008's 6.0 build 0x1772.</summary>
    public const uint Build = 0x1772, Version = (6u << 16) | 0;

    /// <summary>Leaf 3 EAX, HV_PARTITION_PRIVILEGE_MASK's low word: AccessPartitionReferenceCounter (1), AccessSynicRegs (2), AccessSyntheticTimerRegs (3), AccessIntrCtrlRegs (4), AccessHypercallMsrs (5), AccessVpIndex (6), AccessPartitionReferenceTsc (9), AccessFrequencyRegs (11).</summary>
    public const uint AccessPartitionReferenceCounter = 1u << 1, AccessSynicRegs = 1u << 2, AccessSyntheticTimerRegs = 1u << 3,
        AccessIntrCtrlRegs = 1u << 4, AccessHypercallMsrs = 1u << 5, AccessVpIndex = 1u << 6,
        AccessPartitionReferenceTsc = 1u << 9, AccessFrequencyRegs = 1u << 11;

    /// <summary>Leaf 3 EDX: CPUID3D_CPU_DYNAMIC_PARTITIONING, CPUID3D_CRASH_MSRS, CPUID3D_SINT_POLLING.</summary>
    public const uint CpuDynamicPartitioning = 1u << 3, CrashMsrs = 1u << 10, SintPolling = 1u << 17;

    /// <summary>Leaf 4 EAX: CPUID4A_HCALL_REMOTE_TLB_FLUSH, _MSR_BASED_APIC, _RELAX_TIMER_INT, _SYNTHETIC_CLUSTER_IPI, _EX_PROCESSOR_MASKS.</summary>
    public const uint HcallRemoteTlbFlush = 1u << 2, MsrBasedApic = 1u << 3, RelaxTimerInt = 1u << 5,
        SyntheticClusterIpi = 1u << 10, ExProcessorMasks = 1u << 11;

    /// <summary>Leaf 4 EBX: viridian_spinlock_retry_count's default (the viridian-spinlock-retry-count option).</summary>
    public const uint SpinlockRetryCount = 2047;

    /// <summary>Leaf 6 EAX: CPUID6A_APIC_OVERLAY, CPUID6A_MSR_BITMAPS, CPUID6A_NESTED_PAGING.</summary>
    public const uint ApicOverlay = 1u << 0, MsrBitmaps = 1u << 1, NestedPaging = 1u << 3;

    /// <summary>
    /// cpuid_viridian_leaves for <paramref name="leaf"/> (0x40000000-0x400000FF). Leaves 2 and 4
    /// stay empty until the guest has written HV_X64_MSR_GUEST_OS_ID (<paramref name="guestOsId"/>),
    /// leaf 4 also for an OS field (bits 47:40) below 4. The host is the Intel machine the CPU
    /// models (GenuineIntel, family 6 model 0x3A, Ivy Bridge): VT-x with MSR bitmaps and
    /// virtualised APIC accesses but without APIC-register virtualisation, so leaf 4 recommends
    /// MSR-based APIC access and leaf 6 reports the APIC overlay and MSR bitmaps, and nested
    /// paging when the domain uses HAP (<paramref name="hap"/>).
    /// </summary>
    public static CpuidResult Leaf(uint leaf, ViridianFeatures features, ulong guestOsId, bool hap)
    {
        bool Has(ViridianFeatures f) => (features & f) != 0;
        switch (leaf - Base)
        {
            case 0:
                return new CpuidResult(MaxLeaf, SignatureEbx, SignatureEcx, SignatureEdx);
            case 1:
                return new CpuidResult(InterfaceHv1, 0, 0, 0);
            case 2:
                return guestOsId == 0 ? default : new CpuidResult(Build, Version, 0, 0);
            case 3:
                {
                    uint a = AccessIntrCtrlRegs | AccessHypercallMsrs | AccessVpIndex;
                    if (!Has(ViridianFeatures.NoFreq))
                        a |= AccessFrequencyRegs;
                    if (Has(ViridianFeatures.TimeRefCount))
                        a |= AccessPartitionReferenceCounter;
                    if (Has(ViridianFeatures.ReferenceTsc))
                        a |= AccessPartitionReferenceTsc;
                    if (Has(ViridianFeatures.Synic))
                        a |= AccessSynicRegs;
                    if (Has(ViridianFeatures.Stimer))
                        a |= AccessSyntheticTimerRegs;
                    uint d = (Has(ViridianFeatures.CpuHotplug) ? CpuDynamicPartitioning : 0)
                        | (Has(ViridianFeatures.CrashCtl) ? CrashMsrs : 0)
                        | (Has(ViridianFeatures.Synic) ? SintPolling : 0);
                    // EBX, the mask's high word (hypercall rights), is all zero.
                    return new CpuidResult(a, 0, 0, d);
                }

            case 4:
                {
                    if (guestOsId == 0 || GuestOsId.Os(guestOsId) < 4)
                        return default;
                    uint a = RelaxTimerInt | MsrBasedApic
                        | (Has(ViridianFeatures.HcallRemoteTlbFlush) ? HcallRemoteTlbFlush : 0)
                        | (Has(ViridianFeatures.HcallIpi) ? SyntheticClusterIpi : 0)
                        | (Has(ViridianFeatures.ExProcessorMasks) ? ExProcessorMasks : 0);
                    return new CpuidResult(a, SpinlockRetryCount, 0, 0);
                }

            case 5:
                return Has(ViridianFeatures.NoVpLimit) ? new CpuidResult(uint.MaxValue, 0, 0, 0) : default;
            case 6:
                return new CpuidResult(ApicOverlay | MsrBitmaps | (hap ? NestedPaging : 0), 0, 0, 0);
            default:
                return default;
        }
    }
}

/// <summary>union hv_guest_os_id (xen/arch/x86/include/asm/guest/hyperv-tlfs.h): build 15:0, service pack 23:16, minor 31:24, major 39:32, os 47:40, vendor 63:48.</summary>
public static class GuestOsId
{
    /// <summary>The os field, bits 47:40.</summary>
    public static uint Os(ulong raw) => (uint)(raw >> 40) & 0xFF;
}
