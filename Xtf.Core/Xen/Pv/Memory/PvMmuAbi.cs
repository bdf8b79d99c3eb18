namespace Xtf.Core.Xen.Pv.Memory;

/// <summary>Page-table entry bits as Xen names them (xen/arch/x86/include/asm/page.h, x86_64/page.h).</summary>
public static class Pte
{
    public const ulong Present = 1ul << 0;
    public const ulong Rw = 1ul << 1;
    public const ulong User = 1ul << 2;
    public const ulong Pwt = 1ul << 3;
    public const ulong Pcd = 1ul << 4;
    public const ulong Accessed = 1ul << 5;
    public const ulong Dirty = 1ul << 6;

    /// <summary>_PAGE_PSE in L2-L4 entries, _PAGE_PAT in L1 entries.</summary>
    public const ulong Pse = 1ul << 7;
    public const ulong Global = 1ul << 8;

    /// <summary>_PAGE_AVAIL: bits 9-11.</summary>
    public const ulong Avail = 0x7ul << 9;

    /// <summary>_PAGE_AVAIL_HIGH: flag bits 12-22 of Xen's 24-bit flags = PTE bits 52-62.</summary>
    public const ulong AvailHigh = 0x7FFul << 52;

    /// <summary>_PAGE_GUEST_KERNEL (PTE bit 52): Xen's mark of a pv64 kernel-only mapping it made user.</summary>
    public const ulong GuestKernel = 1ul << 52;

    /// <summary>_PAGE_GNTTAB (PTE bit 62): a grant mapping; guests may not set it.</summary>
    public const ulong GntTab = 1ul << 62;
    public const ulong Nx = 1ul << 63;

    /// <summary>The frame address of an entry: bits 12-51 (PADDR_BITS = 52).</summary>
    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

    /// <summary>Every flag bit (Xen's 24-bit flags: PTE bits 0-11 and 52-63).</summary>
    public const ulong FlagMask = ~AddressMask;

    /// <summary>
    /// arch_init_memory's base_disallow_mask: everything but P, RW, U, A, D, AVAIL, AVAIL_HIGH and
    /// NX (the CPU has NX); i.e. PWT, PCD, PSE/PAT and G.
    /// </summary>
    public const ulong BaseDisallow = FlagMask & ~(Present | Rw | User | Accessed | Dirty | Avail | AvailHigh | Nx);

    /// <summary>L1_DISALLOW_MASK: (base | _PAGE_GNTTAB) &amp; ~_PAGE_GLOBAL (a domain without I/O resources).</summary>
    public const ulong L1Disallow = (BaseDisallow | GntTab) & ~Global;

    public const ulong L2Disallow = BaseDisallow;

    /// <summary>l3_disallow_mask for pv64.</summary>
    public const ulong L3Disallow = BaseDisallow;

    /// <summary>l3_disallow_mask for pv32: the flags 0xFFFFF198 (PWT, PCD, PSE, G and every high bit, NX included).</summary>
    public const ulong L3DisallowCompat = 0x198ul | (0xFFFul << 52);

    public const ulong L4Disallow = BaseDisallow;

    /// <summary>FASTPATH_FLAG_WHITELIST: bits a guest may change without the entry being re-validated.</summary>
    public const ulong FastpathWhitelist = Nx | AvailHigh | Avail | Global | Dirty | Accessed | User;

    /// <summary>
    /// FASTPATH_PDE_FLAG_WHITELIST with CONFIG_PV_LINEAR_PT (Xen's default): the same as for L1
    /// entries, since RW on an intermediate entry matters to linear page tables.
    /// </summary>
    public const ulong FastpathPdeWhitelist = FastpathWhitelist;

    /// <summary>PADDR_MASK &gt;&gt; PAGE_SHIFT: the "invalid MFN" an L1 entry may name to get -EINVAL instead of -EPERM.</summary>
    public const ulong InvalidMfn = AddressMask >> 12;

    public static ulong Mfn(ulong entry) => (entry & AddressMask) >> 12;

    /// <summary>l1e_has_changed(x, y, flags): the address or one of <paramref name="flags"/> differs.</summary>
    public static bool HasChanged(ulong oldEntry, ulong newEntry, ulong flags) =>
        ((oldEntry ^ newEntry) & (AddressMask | (flags & FlagMask))) != 0;
}

/// <summary>mmu_update request commands: the low bits of <c>ptr</c> (public/xen.h).</summary>
public static class MmuCommand
{
    public const int NormalPtUpdate = 0;
    public const int MachphysUpdate = 1;
    public const int PtUpdatePreserveAd = 2;
    public const int PtUpdateNoTranslate = 3;

    /// <summary>MMU_UPDATE_PREEMPTED: the count bit of a continuation.</summary>
    public const uint UpdatePreempted = 1u << 31;
}

/// <summary>mmuext_op commands (public/xen.h).</summary>
public static class MmuextCommand
{
    public const uint PinL1Table = 0;
    public const uint PinL2Table = 1;
    public const uint PinL3Table = 2;
    public const uint PinL4Table = 3;
    public const uint UnpinTable = 4;
    public const uint NewBaseptr = 5;
    public const uint TlbFlushLocal = 6;
    public const uint InvlpgLocal = 7;
    public const uint TlbFlushMulti = 8;
    public const uint InvlpgMulti = 9;
    public const uint TlbFlushAll = 10;
    public const uint InvlpgAll = 11;
    public const uint FlushCache = 12;
    public const uint SetLdt = 13;
    public const uint NewUserBaseptr = 15;
    public const uint ClearPage = 16;
    public const uint CopyPage = 17;
    public const uint FlushCacheGlobal = 18;
    public const uint MarkSuper = 19;
    public const uint UnmarkSuper = 20;
}

/// <summary>update_va_mapping flags (public/xen.h).</summary>
public static class Uvmf
{
    public const ulong None = 0;
    public const ulong TlbFlush = 1;
    public const ulong Invlpg = 2;
    public const ulong FlushTypeMask = 3;

    /// <summary>UVMF_MULTI / UVMF_LOCAL: the rest of the flags is a vCPU bitmap pointer (0: the local vCPU).</summary>
    public const ulong Local = 0;
    public const ulong All = 4;
}

/// <summary>Errno values the MMU hypercalls return that <see cref="XenErrno"/> does not list (public/errno.h).</summary>
public static class MmuErrno
{
    public const int EACCES = 13;
    public const int ERANGE = 34;
    public const int EOPNOTSUPP = 95;
}

/// <summary>Reserved domain ids (public/xen.h).</summary>
public static class ReservedDomainId
{
    public const ushort Self = 0x7FF0;
    public const ushort Io = 0x7FF1;
    public const ushort Xen = 0x7FF2;
}

/// <summary>Xen's layout facts the MMU rules depend on (xen/arch/x86/include/asm/config.h).</summary>
public static class PvLayout
{
    /// <summary>ROOT_PAGETABLE_FIRST_XEN_SLOT .. LAST: pv64 L4 slots 256-271 are Xen's.</summary>
    public const int FirstXenL4Slot = 256;
    public const int LastXenL4Slot = 271;

    /// <summary>HYPERVISOR_VIRT_END: the end of Xen's range in a pv64 address space.</summary>
    public const ulong HypervisorVirtEnd = 0xFFFF_8800_0000_0000;

    /// <summary>__HYPERVISOR_COMPAT_VIRT_START: the start of Xen's range in a pv32 address space.</summary>
    public const ulong CompatVirtStart = 0xF580_0000;

    /// <summary>COMPAT_L2_PAGETABLE_FIRST_XEN_SLOT: l2_table_offset(0xF5800000) = 428.</summary>
    public const int FirstCompatXenL2Slot = (int)((CompatVirtStart >> 21) & 511);

    /// <summary>__addr_ok for pv64: below the canonical hole, or above Xen's range.</summary>
    public static bool AddressOk64(ulong linear) => linear < (1ul << 47) || linear >= HypervisorVirtEnd;
}
