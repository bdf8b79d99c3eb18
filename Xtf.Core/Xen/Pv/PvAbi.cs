namespace Xtf.Core.Xen.Pv;

/// <summary>
/// Xen's PV ABI constants (public/arch-x86/xen-x86_64.h, xen-x86_32.h, public/xen.h): the flat
/// selectors of Xen's reserved GDT entries, the guest-visible hypervisor addresses, and Xen's own
/// ring-0 selectors (asm/desc.h).
/// </summary>
public static class PvAbi
{
    /// <summary>FIRST_RESERVED_GDT_PAGE: the GDT page holding Xen's descriptors (selectors 0xe000 up).</summary>
    public const int FirstReservedGdtPage = 14;

    /// <summary>FIRST_RESERVED_GDT_ENTRY: set_gdt accepts at most this many guest entries.</summary>
    public const int FirstReservedGdtEntry = FirstReservedGdtPage * 512;

    /// <summary>Byte offset of Xen's reserved GDT page (14 * 4096 = 0xE000): the lowest selector value Xen owns.</summary>
    public const ushort FirstReservedGdtByte = FirstReservedGdtPage * 4096;

    /// <summary>__HYPERVISOR_CS and __HYPERVISOR_DS64: Xen's own ring-0 segments.</summary>
    public const ushort HypervisorCs = 0xe008, HypervisorDs = 0xe010;

    // xen-x86_32.h (also the compat view of a 64-bit Xen).
    /// <summary>xen-x86_32.h (and the compat view of a 64-bit Xen): FLAT_RING1_CS 0xe019 and FLAT_RING1_DS 0xe021 (the pv32 kernel's flat ring-1 segments), FLAT_RING3_CS 0xe02b and FLAT_RING3_DS 0xe033 (its user segments).</summary>
    public const ushort FlatRing1Cs = 0xe019, FlatRing1Ds = 0xe021, FlatRing3Cs32 = 0xe02b, FlatRing3Ds32 = 0xe033;

    // xen-x86_64.h.
    /// <summary>xen-x86_64.h: FLAT_RING3_CS64 0xe033, FLAT_RING3_DS64 0 (null data selectors are legal in long mode), FLAT_RING3_SS64 0xe02b.</summary>
    public const ushort FlatRing3Cs64 = 0xe033, FlatRing3Ds64 = 0x0000, FlatRing3Ss64 = 0xe02b;
    /// <summary>xen-x86_64.h: FLAT_RING3_CS32 0xe023 and FLAT_RING3_DS32 0xe02b, the compatibility-mode user segments of a 64-bit PV guest.</summary>
    public const ushort FlatRing3Cs32On64 = 0xe023, FlatRing3Ds32On64 = 0xe02b;

    /// <summary>HYPERVISOR_VIRT_START of 64-bit PV guests, where the read-only M2P starts (RO_MPT_VIRT_START).</summary>
    public const ulong HypervisorVirtStart64 = 0xFFFF800000000000;

    /// <summary>The end of Xen's reserved part of the 64-bit address space (L4 slots 256-271).</summary>
    public const ulong HypervisorVirtEnd64 = 0xFFFF880000000000;

    /// <summary>__HYPERVISOR_COMPAT_VIRT_START: the compat M2P and the top of a 32-bit guest's space.</summary>
    public const uint HypervisorVirtStartCompat = 0xF5800000;

    /// <summary>PERDOMAIN_VIRT_START (L4 slot 260): per-domain mappings, among them the vCPU's GDT.</summary>
    public const ulong PerDomainVirtStart = 0xFFFF820000000000;

    /// <summary>L4 slot 262, Xen's direct map; here Xen's private pages (stack, TSS).</summary>
    public const ulong XenPrivateVirtStart = 0xFFFF830000000000;

    /// <summary>The first and last L4 slot Xen reserves in every 64-bit guest L4 (ROOT_PAGETABLE_FIRST/LAST_XEN_SLOT).</summary>
    public const int FirstXenL4Slot = 256, LastXenL4Slot = 271;

    /// <summary>The first L2 slot under compat L3 slot 3 that Xen owns (0xF5800000 &gt;&gt; 21 &amp; 511).</summary>
    public const int FirstXenCompatL2Slot = (int)((HypervisorVirtStartCompat >> 21) & 511);

    /// <summary>VGCF_in_syscall (public/arch-x86/xen.h): HYPERVISOR_iret's flag to return as SYSRET would.</summary>
    public const ulong VgcfInSyscall = 1ul << 8;

    /// <summary>SIF_* start_info flags (public/xen.h).</summary>
    public const uint SifPrivileged = 1, SifInitdomain = 2;
}
