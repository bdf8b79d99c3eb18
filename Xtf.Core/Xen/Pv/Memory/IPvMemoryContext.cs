using Xtf.Core.Cpu;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Pv.Memory;

/// <summary>
/// What the PV memory manager (page types, mmu_update, update_va_mapping, mmuext_op) needs of its
/// domain. Guest frames are machine frames 0 .. <see cref="GuestFrames"/> - 1 (the p2m is the
/// identity); frames above are the hypervisor's, of which the guest may map only those the
/// builder shares with it (<see cref="FrameTable.ShareWithGuest"/>: shared_info, grant frames).
/// </summary>
public interface IPvMemoryContext
{
    /// <summary>The vCPU (its CR3 and TLB are what page-table updates must keep coherent).</summary>
    X86Cpu Cpu { get; }

    /// <summary>Machine memory.</summary>
    PhysicalMemory Memory { get; }

    /// <summary>pv64 (4-level tables, the guest's root is an L4) or pv32pae (compat: the guest's root is a PAE L3).</summary>
    bool Is64Bit { get; }

    /// <summary>The number of frames the guest owns (machine frames 0 .. GuestFrames - 1).</summary>
    ulong GuestFrames { get; }

    /// <summary>copy_from_guest / copy_to_guest through the guest's page tables.</summary>
    GuestMemory Guest { get; }

    /// <summary>The root the vCPU runs on in guest kernel mode (an L4 mfn for pv64, an L3 mfn for pv32pae).</summary>
    ulong KernelRoot { get; }

    /// <summary>pv64's user-mode root (MMUEXT_NEW_USER_BASEPTR), 0 when none.</summary>
    ulong UserRoot { get; }

    /// <summary>
    /// Installs a validated root: the kernel one (MMUEXT_NEW_BASEPTR) or pv64's user one
    /// (MMUEXT_NEW_USER_BASEPTR); the domain reloads CR3 if that root is live.
    /// </summary>
    void SetRoot(ulong mfn, bool user);

    /// <summary>
    /// init_xen_l4_slots: writes Xen's entries (slots 256-271) into a pv64 L4 the guest is having
    /// validated as a page table (the guest's values there are discarded, as Xen's promote_l4_table does).
    /// </summary>
    void InitXenL4Slots(ulong l4Mfn);

    /// <summary>
    /// init_xen_pae_l2_slots: writes Xen's compat entries (slots 428-511, the compat M2P) into the
    /// pv32 L2 that the guest's L3 slot 3 points to.
    /// </summary>
    void InitXenPaeL2Slots(ulong l2Mfn);

    /// <summary>set_gpfn_from_mfn (MMU_MACHPHYS_UPDATE): the M2P entry of <paramref name="mfn"/>.</summary>
    void SetM2pEntry(ulong mfn, ulong pfn);

    /// <summary>
    /// MMUEXT_SET_LDT with arguments already checked: the vCPU's LDT becomes
    /// <paramref name="entries"/> descriptors at guest linear <paramref name="linearBase"/>
    /// (0 entries: no LDT), as pv_destroy_ldt then load_LDT.
    /// </summary>
    void SetLdt(ulong linearBase, uint entries);
}
