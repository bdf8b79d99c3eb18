namespace Xtf.Core.Xen.Pv.Memory;

/// <summary>The use a frame is typed for (Xen's PGT_* type of page_info.u.inuse.type_info).</summary>
public enum PageType : byte
{
    /// <summary>PGT_none, or any type with a type count of 0 (a page with no type references may take any type).</summary>
    None,
    /// <summary>PGT_writable_page: the guest may map the frame read/write.</summary>
    Writable,
    /// <summary>PGT_l1_page_table: validated L1 (page table).</summary>
    L1,
    /// <summary>PGT_l2_page_table: validated L2 (page directory).</summary>
    L2,
    /// <summary>PGT_l3_page_table: validated L3 (PDPT; pv32pae's root).</summary>
    L3,
    /// <summary>PGT_l4_page_table: validated L4 (pv64's root).</summary>
    L4,

    /// <summary>PGT_seg_desc_page: a GDT or LDT frame.</summary>
    SegDesc,
}

/// <summary>Who a machine frame belongs to (page_get_owner).</summary>
public enum FrameOwner : byte
{
    /// <summary>A frame of the guest's own RAM (machine frames below the guest frame count).</summary>
    Guest,

    /// <summary>A Xen frame shared with the guest (share_xen_page_with_guest): owned by it, typed writable for good.</summary>
    SharedWithGuest,

    /// <summary>A frame of the hypervisor (Xen heap, M2P, Xen's own page tables): the guest may not reference it.</summary>
    Hypervisor,
}

/// <summary>
/// The frame table: Xen's struct page_info for every machine frame, reduced to what the PV MMU
/// rules read: owner, type, type count, PGT_pinned and PGT_pae_xen_l2. The general reference
/// count is not kept: guest frames are never freed here.
/// </summary>
public sealed class FrameTable
{
    private readonly PageType[] types;
    private readonly int[] counts;
    private readonly bool[] pinned;
    private readonly bool[] paeXenL2;
    private readonly ulong guestFrames;
    private readonly HashSet<ulong> shared = [];
    private readonly Dictionary<ulong, int> sharedMappings = [];

    /// <summary>A frame table of <paramref name="frameCount"/> machine frames: those below <paramref name="guestFrames"/> are the guest's, the rest Xen's until <see cref="ShareWithGuest"/> shares one.</summary>
    public FrameTable(ulong frameCount, ulong guestFrames)
    {
        types = new PageType[frameCount];
        counts = new int[frameCount];
        pinned = new bool[frameCount];
        paeXenL2 = new bool[frameCount];
        this.guestFrames = guestFrames;
    }

    /// <summary>
    /// share_xen_page_with_guest(SHARE_rw) for a hypervisor frame the guest may map (shared_info,
    /// which the builder allocates after the table exists; grant-table frames): "the incremented
    /// type count pins as writable", so the guest may map it writable (update_va_mapping) and
    /// never retype it.
    /// </summary>
    public void ShareWithGuest(ulong mfn)
    {
        if (!IsValid(mfn) || mfn < guestFrames)
            throw new ArgumentOutOfRangeException(nameof(mfn), "only a hypervisor frame can be shared with the guest");
        shared.Add(mfn);
        types[mfn] = PageType.Writable;
        counts[mfn] = 1;
    }

    /// <summary>
    /// put_page_alloc_ref then the count_info check of gnttab_unpopulate_status_frames: a shared
    /// frame that some L1 entry still maps keeps its reference and stays the guest's (false);
    /// otherwise it is the hypervisor's again (page_set_owner(pg, NULL)).
    /// </summary>
    public bool TryUnshare(ulong mfn)
    {
        if (!shared.Contains(mfn) || MappingCount(mfn) != 0)
            return false;
        shared.Remove(mfn);
        counts[mfn] = 0;
        types[mfn] = PageType.None;
        return true;
    }

    /// <summary>The guest's L1 entries that map shared hypervisor frame <paramref name="mfn"/> (the general references they hold); 0 for other frames.</summary>
    public int MappingCount(ulong mfn) => sharedMappings.GetValueOrDefault(mfn);

    internal void AddMapping(ulong mfn)
    {
        if (shared.Contains(mfn))
            sharedMappings[mfn] = MappingCount(mfn) + 1;
    }

    internal void RemoveMapping(ulong mfn)
    {
        if (MappingCount(mfn) > 0)
            sharedMappings[mfn]--;
    }

    /// <summary>Machine frames covered (max_page).</summary>
    public ulong FrameCount => (ulong)types.Length;

    /// <summary>mfn_valid: the frame exists in machine memory.</summary>
    public bool IsValid(ulong mfn) => mfn < FrameCount;

    /// <summary>page_get_owner for <paramref name="mfn"/>.</summary>
    public FrameOwner Owner(ulong mfn) =>
        mfn < guestFrames ? FrameOwner.Guest
        : shared.Contains(mfn) ? FrameOwner.SharedWithGuest
        : FrameOwner.Hypervisor;

    /// <summary>get_page(page, d): the frame exists and the guest owns it (shared Xen frames included).</summary>
    public bool IsGuests(ulong mfn) => IsValid(mfn) && Owner(mfn) != FrameOwner.Hypervisor;

    /// <summary>The type, <see cref="PageType.None"/> while no type reference is held.</summary>
    public PageType Type(ulong mfn) => IsValid(mfn) && counts[mfn] > 0 ? types[mfn] : PageType.None;

    /// <summary>The type reference count (PGT_count_mask of type_info); 0 for an invalid frame.</summary>
    public int TypeCount(ulong mfn) => IsValid(mfn) ? counts[mfn] : 0;

    /// <summary>PGT_pinned: the guest pinned the frame as a page table (MMUEXT_PIN_L*_TABLE), holding one type reference.</summary>
    public bool IsPinned(ulong mfn) => IsValid(mfn) && pinned[mfn];

    /// <summary>PGT_pae_xen_l2: a pv32 L2 under L3 slot 3, whose slots from 428 up are Xen's.</summary>
    public bool IsPaeXenL2(ulong mfn) => IsValid(mfn) && counts[mfn] > 0 && paeXenL2[mfn];

    internal void Set(ulong mfn, PageType type, bool xenL2)
    {
        types[mfn] = type;
        paeXenL2[mfn] = xenL2;
    }

    internal int Increment(ulong mfn) => ++counts[mfn];

    internal int Decrement(ulong mfn) => --counts[mfn];

    internal void SetPinned(ulong mfn, bool value) => pinned[mfn] = value;
}
