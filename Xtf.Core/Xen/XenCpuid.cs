using Xtf.Core.Cpu;

namespace Xtf.Core.Xen;

/// <summary>
/// The hypervisor CPUID leaves Xen presents at 0x40000000 (xen/arch/x86/cpuid.c,
/// cpuid_hypervisor_leaves), and the hypervisor-present bit in leaf 1.
/// </summary>
public static class XenCpuid
{
    /// <summary>0x40000000: the first hypervisor leaf, where Xen's signature leaf sits (XTF probes from here in steps of 0x100).</summary>
    public const uint Base = 0x40000000;

    /// <summary>XEN_CPUID_MAX_NUM_LEAVES in current Xen.</summary>
    public const uint MaxLeaves = 5;

    /// <summary>Leaf 2 EBX: the MSR whose write installs the hypercall page.</summary>
    public const uint HypercallPageMsr = 0x40000000;

    // "XenVMMXenVMM" as EBX, ECX, EDX.
    /// <summary>Leaf 0x40000000 EBX: "XenV", the first 4 bytes of the signature "XenVMMXenVMM" (little-endian).</summary>
    public const uint SignatureEbx = 0x566E6558;

    /// <summary>Leaf 0x40000000 ECX: "MMXe".</summary>
    public const uint SignatureEcx = 0x65584D4D;

    /// <summary>Leaf 0x40000000 EDX: "nVMM".</summary>
    public const uint SignatureEdx = 0x4D4D566E;

    /// <summary>CPUID.1:ECX bit 31, set by hypervisors for their guests.</summary>
    public const uint HypervisorPresent = 1u << 31;

    /// <summary>
    /// Xen's answer for CPUID <paramref name="leaf"/>/<paramref name="subleaf"/> in its hypervisor
    /// range (cpuid.c guest_cpuid, "case 0x40000000U ... 0x400001ffU"): leaves from Xen's base,
    /// 0x40000000, or 0x40000100 in a viridian domain (<paramref name="viridian"/>; its
    /// 0x40000000-0x400000FF are the Hyper-V leaves, which the caller answers): leaf 0 signature
    /// and max leaf, leaf 1 version <paramref name="major"/>.<paramref name="minor"/> as major
    /// &lt;&lt; 16 | minor, leaf 2 the hypercall-page MSR (0x40000200 in a viridian domain), leaf 4
    /// HVM vCPU/domain ids; leaves above the maximum, and below the base, return zeros. Outside
    /// the range: the native leaf, with CPUID.1:ECX.hypervisor set.
    /// </summary>
    public static CpuidResult Leaf(uint leaf, uint subleaf, int major, int minor, bool hvm, bool viridian = false)
    {
        if (leaf >= Base && leaf <= Base + 0x1FF)
        {
            uint xenBase = viridian ? Base + 0x100 : Base;
            uint idx = unchecked(leaf - xenBase);
            if (idx > MaxLeaves)
                return default;
            return idx switch
            {
                0 => new CpuidResult(xenBase + MaxLeaves, SignatureEbx, SignatureEcx, SignatureEdx),
                1 => new CpuidResult((uint)((major << 16) | minor), 0, 0, 0),
                2 => new CpuidResult(1, HypercallMsr(viridian), 0, 0),
                // Leaf 4 (HVM, subleaf 0): VCPU_ID_PRESENT | DOMID_PRESENT, EBX vcpu 0, ECX domid 1.
                4 when hvm && subleaf == 0 => new CpuidResult((1u << 3) | (1u << 4), 0, 1, 0),
                _ => default,
            };
        }

        var native = CpuidLeaves.Native(leaf, subleaf);
        return leaf == 1 ? native with { Ecx = native.Ecx | HypervisorPresent } : native;
    }

    /// <summary>The MSR whose write installs the hypercall page: "Optionally shift out of the way of Viridian architectural MSRs" (msr.c guest_wrmsr_xen), 0x40000200 in a viridian domain.</summary>
    public static uint HypercallMsr(bool viridian) => viridian ? HypercallPageMsr + 0x200 : HypercallPageMsr;
}
