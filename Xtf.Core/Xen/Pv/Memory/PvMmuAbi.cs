namespace Xtf.Core.Xen.Pv.Memory;

/// <summary>Page-table entry bits as Xen names them (xen/arch/x86/include/asm/page.h, x86_64/page.h).</summary>
public static class Pte
{
    /// <summary>_PAGE_PRESENT (bit 0).</summary>
    public const ulong Present = 1ul << 0;
    /// <summary>_PAGE_RW (bit 1): writable.</summary>
    public const ulong Rw = 1ul << 1;
    /// <summary>_PAGE_USER (bit 2): user-accessible.</summary>
    public const ulong User = 1ul << 2;
    /// <summary>_PAGE_PWT (bit 3): page write-through.</summary>
    public const ulong Pwt = 1ul << 3;
    /// <summary>_PAGE_PCD (bit 4): page cache disable.</summary>
    public const ulong Pcd = 1ul << 4;
    /// <summary>_PAGE_ACCESSED (bit 5).</summary>
    public const ulong Accessed = 1ul << 5;
    /// <summary>_PAGE_DIRTY (bit 6); in L1 entries only.</summary>
    public const ulong Dirty = 1ul << 6;

    /// <summary>_PAGE_PSE in L2-L4 entries, _PAGE_PAT in L1 entries.</summary>
    public const ulong Pse = 1ul << 7;
    /// <summary>_PAGE_GLOBAL (bit 8): survives CR3 writes with CR4.PGE.</summary>
    public const ulong Global = 1ul << 8;

    /// <summary>_PAGE_AVAIL: bits 9-11.</summary>
    public const ulong Avail = 0x7ul << 9;

    /// <summary>_PAGE_AVAIL_HIGH: flag bits 12-22 of Xen's 24-bit flags = PTE bits 52-62.</summary>
    public const ulong AvailHigh = 0x7FFul << 52;

    /// <summary>_PAGE_GUEST_KERNEL (PTE bit 52): Xen's mark of a pv64 kernel-only mapping it made user.</summary>
    public const ulong GuestKernel = 1ul << 52;

    /// <summary>_PAGE_GNTTAB (PTE bit 62): a grant mapping; guests may not set it.</summary>
    public const ulong GntTab = 1ul << 62;
    /// <summary>_PAGE_NX (bit 63): execute-disable with EFER.NXE.</summary>
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

    /// <summary>L2_DISALLOW_MASK: flags a guest L2 entry may not set.</summary>
    public const ulong L2Disallow = BaseDisallow;

    /// <summary>l3_disallow_mask for pv64.</summary>
    public const ulong L3Disallow = BaseDisallow;

    /// <summary>l3_disallow_mask for pv32: the flags 0xFFFFF198 (PWT, PCD, PSE, G and every high bit, NX included).</summary>
    public const ulong L3DisallowCompat = 0x198ul | (0xFFFul << 52);

    /// <summary>L4_DISALLOW_MASK: flags a guest L4 entry may not set.</summary>
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

    /// <summary>The machine frame number an entry names (bits 51:12).</summary>
    public static ulong Mfn(ulong entry) => (entry & AddressMask) >> 12;

    /// <summary>l1e_has_changed(x, y, flags): the address or one of <paramref name="flags"/> differs.</summary>
    public static bool HasChanged(ulong oldEntry, ulong newEntry, ulong flags) =>
        ((oldEntry ^ newEntry) & (AddressMask | (flags & FlagMask))) != 0;
}

/// <summary>mmu_update request commands: the low bits of <c>ptr</c> (public/xen.h).</summary>
public static class MmuCommand
{
    /// <summary>MMU_NORMAL_PT_UPDATE: ptr is the machine address of a page-table entry to set to val, after validation; A/D bits as given.</summary>
    public const int NormalPtUpdate = 0;
    /// <summary>MMU_MACHPHYS_UPDATE: ptr's frame's M2P entry becomes val (a pfn).</summary>
    public const int MachphysUpdate = 1;
    /// <summary>MMU_PT_UPDATE_PRESERVE_AD: as NORMAL_PT_UPDATE, but the entry's current Accessed and Dirty bits are kept.</summary>
    public const int PtUpdatePreserveAd = 2;
    /// <summary>MMU_PT_UPDATE_NO_TRANSLATE: as NORMAL_PT_UPDATE with val's frame taken as an mfn even for a translated guest.</summary>
    public const int PtUpdateNoTranslate = 3;

    /// <summary>MMU_UPDATE_PREEMPTED: the count bit of a continuation.</summary>
    public const uint UpdatePreempted = 1u << 31;
}

/// <summary>mmuext_op commands (public/xen.h).</summary>
public static class MmuextCommand
{
    /// <summary>MMUEXT_PIN_L1_TABLE: validate mfn as an L1 and pin it (hold a type reference).</summary>
    public const uint PinL1Table = 0;
    /// <summary>MMUEXT_PIN_L2_TABLE: validate and pin an L2.</summary>
    public const uint PinL2Table = 1;
    /// <summary>MMUEXT_PIN_L3_TABLE: validate and pin an L3.</summary>
    public const uint PinL3Table = 2;
    /// <summary>MMUEXT_PIN_L4_TABLE: validate and pin an L4 (pv64).</summary>
    public const uint PinL4Table = 3;
    /// <summary>MMUEXT_UNPIN_TABLE: drop the pin's type reference.</summary>
    public const uint UnpinTable = 4;
    /// <summary>MMUEXT_NEW_BASEPTR: switch the kernel page-table root to mfn (validated as the root type).</summary>
    public const uint NewBaseptr = 5;
    /// <summary>MMUEXT_TLB_FLUSH_LOCAL: flush this vCPU's non-global TLB entries.</summary>
    public const uint TlbFlushLocal = 6;
    /// <summary>MMUEXT_INVLPG_LOCAL: INVLPG of linear_addr on this vCPU.</summary>
    public const uint InvlpgLocal = 7;
    /// <summary>MMUEXT_TLB_FLUSH_MULTI: TLB flush on the vCPUs in vcpumask.</summary>
    public const uint TlbFlushMulti = 8;
    /// <summary>MMUEXT_INVLPG_MULTI: INVLPG of linear_addr on the vCPUs in vcpumask.</summary>
    public const uint InvlpgMulti = 9;
    /// <summary>MMUEXT_TLB_FLUSH_ALL: TLB flush on every vCPU of the domain.</summary>
    public const uint TlbFlushAll = 10;
    /// <summary>MMUEXT_INVLPG_ALL: INVLPG of linear_addr on every vCPU.</summary>
    public const uint InvlpgAll = 11;
    /// <summary>MMUEXT_FLUSH_CACHE: WBINVD on this CPU (needs cache-flush permission).</summary>
    public const uint FlushCache = 12;
    /// <summary>MMUEXT_SET_LDT: install an LDT of nr_ents descriptors at linear_addr (page-aligned, at most 8192).</summary>
    public const uint SetLdt = 13;
    /// <summary>MMUEXT_NEW_USER_BASEPTR: pv64's user-mode L4 (mfn, or 0 for none).</summary>
    public const uint NewUserBaseptr = 15;
    /// <summary>MMUEXT_CLEAR_PAGE: zero a writable guest frame.</summary>
    public const uint ClearPage = 16;
    /// <summary>MMUEXT_COPY_PAGE: copy src_mfn's contents to mfn.</summary>
    public const uint CopyPage = 17;
    /// <summary>MMUEXT_FLUSH_CACHE_GLOBAL: WBINVD on every CPU the domain ran on.</summary>
    public const uint FlushCacheGlobal = 18;
    /// <summary>MMUEXT_MARK_SUPER: mark a 2 MiB-aligned range as a superpage (removed from Xen; -EOPNOTSUPP).</summary>
    public const uint MarkSuper = 19;
    /// <summary>MMUEXT_UNMARK_SUPER: undo MARK_SUPER (removed from Xen; -EOPNOTSUPP).</summary>
    public const uint UnmarkSuper = 20;
}

/// <summary>update_va_mapping flags (public/xen.h).</summary>
public static class Uvmf
{
    /// <summary>UVMF_NONE: no TLB flush.</summary>
    public const ulong None = 0;
    /// <summary>UVMF_TLB_FLUSH: flush the whole TLB(s).</summary>
    public const ulong TlbFlush = 1;
    /// <summary>UVMF_INVLPG: flush only the updated address.</summary>
    public const ulong Invlpg = 2;
    /// <summary>UVMF_FLUSHTYPE_MASK: bits 1:0 select the flush type.</summary>
    public const ulong FlushTypeMask = 3;

    /// <summary>UVMF_MULTI / UVMF_LOCAL: the rest of the flags is a vCPU bitmap pointer (0: the local vCPU).</summary>
    public const ulong Local = 0;
    /// <summary>UVMF_ALL: flush on all of the domain's vCPUs.</summary>
    public const ulong All = 4;
}

/// <summary>Errno values the MMU hypercalls return (public/errno.h); ERANGE and EOPNOTSUPP are not in <see cref="XenErrno"/>, EACCES repeats its value.</summary>
public static class MmuErrno
{
    /// <summary>XEN_EACCES.</summary>
    public const int EACCES = 13;
    /// <summary>XEN_ERANGE: result out of range.</summary>
    public const int ERANGE = 34;
    /// <summary>XEN_EOPNOTSUPP: operation not supported.</summary>
    public const int EOPNOTSUPP = 95;
}

/// <summary>Reserved domain ids (public/xen.h).</summary>
public static class ReservedDomainId
{
    /// <summary>DOMID_SELF: the calling domain.</summary>
    public const ushort Self = 0x7FF0;
    /// <summary>DOMID_IO: owner of I/O memory; mmu_update's foreign domain for mapping MMIO.</summary>
    public const ushort Io = 0x7FF1;
    /// <summary>DOMID_XEN: owner of Xen's own shared pages.</summary>
    public const ushort Xen = 0x7FF2;
}

/// <summary>Xen's layout facts the MMU rules depend on (xen/arch/x86/include/asm/config.h).</summary>
public static class PvLayout
{
    /// <summary>ROOT_PAGETABLE_FIRST_XEN_SLOT .. LAST: pv64 L4 slots 256-271 are Xen's.</summary>
    public const int FirstXenL4Slot = 256;
    /// <summary>ROOT_PAGETABLE_LAST_XEN_SLOT (271).</summary>
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
