using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv.Memory;

/// <summary>
/// Xen's PV memory management for one domain (xen/arch/x86/mm.c): the type system of the frame
/// table (_get_page_type / _put_page_type, promotion and demotion of page tables), pinning, the
/// vCPU's root tables, and the TLB maintenance the hypercalls ask for. A frame is a page table
/// only while it holds a type reference of that level; while it does, no writable mapping of it
/// can exist, so the guest changes its page tables only through these hypercalls.
/// </summary>
public sealed partial class PvMemoryManager
{
    private const int EntriesPerTable = 512;

    private readonly IPvMemoryContext ctx;

    /// <summary>Frames being validated (type count 1, PGT_validated not yet set).</summary>
    private readonly HashSet<ulong> validating = [];

    /// <summary>v->arch.guest_table and guest_table_user: the roots this vCPU holds a type reference on (0: none).</summary>
    private ulong kernelTable, userTable;

    /// <summary>The memory manager of <paramref name="context"/>'s domain, with a frame table covering all machine frames.</summary>
    public PvMemoryManager(IPvMemoryContext context)
    {
        ctx = context;
        Frames = new FrameTable(context.Memory.FrameCount, context.GuestFrames);
    }

    /// <summary>Per-frame owner, type, type count and pin state.</summary>
    public FrameTable Frames { get; }

    internal IPvMemoryContext Context => ctx;

    /// <summary>pv64, or pv32pae (is_pv_32bit_domain).</summary>
    private bool Compat => !ctx.Is64Bit;

    /// <summary>PGT_root_page_table: L4 for pv64; the PAE L3 a pv32 guest installs into Xen's L4 slot 0.</summary>
    public PageType RootType => Compat ? PageType.L3 : PageType.L4;

    /// <summary>
    /// What the toolstack does with the start-of-day root (libxc pin_table, then
    /// arch_set_info_guest): pin it as the root type, which validates every table it reaches and
    /// gives each its type, and take the vCPU's reference on it as its kernel root. Returns 0 or
    /// Xen's error for the first entry that does not validate.
    /// </summary>
    public int PinInitial(ulong rootMfn)
    {
        int rc = Pin(rootMfn, RootType);
        if (rc != 0)
            return rc;
        rc = GetPageAndType(rootMfn, RootType);
        if (rc != 0)
            return rc;
        kernelTable = rootMfn;
        ctx.SetRoot(rootMfn, user: false);
        return 0;
    }

    /// <summary>MMUEXT_PIN_Ln_TABLE: a type reference held until unpinned; a second pin is -EINVAL.</summary>
    public int Pin(ulong mfn, PageType type)
    {
        if (!Frames.IsGuests(mfn))
            return -XenErrno.EINVAL;
        int rc = GetPageType(mfn, type);
        if (rc != 0)
            return rc;
        if (Frames.IsPinned(mfn))
        {
            PutPageType(mfn);
            return -XenErrno.EINVAL;
        }

        Frames.SetPinned(mfn, true);
        return 0;
    }

    /// <summary>MMUEXT_UNPIN_TABLE: drops the pin's type reference; -EINVAL when not pinned.</summary>
    public int Unpin(ulong mfn)
    {
        if (!Frames.IsGuests(mfn) || !Frames.IsPinned(mfn))
            return -XenErrno.EINVAL;
        Frames.SetPinned(mfn, false);
        PutPageType(mfn);
        return 0;
    }

    /// <summary>
    /// new_guest_cr3 (MMUEXT_NEW_BASEPTR): a reference of the root type on the new table, then the
    /// old root's reference dropped. pv32 installs the L3 in Xen's L4 slot 0 (mod_l4_entry).
    /// </summary>
    public int NewBaseptr(ulong mfn)
    {
        if (mfn == kernelTable)
        {
            ctx.SetRoot(mfn, user: false);
            return 0;
        }

        int rc = GetPageAndType(mfn, RootType);
        if (rc != 0)
            return rc;
        ulong old = kernelTable;
        kernelTable = mfn;
        ctx.SetRoot(mfn, user: false);
        FlushTlb();
        if (old != 0)
            PutPageType(old);
        return 0;
    }

    /// <summary>MMUEXT_NEW_USER_BASEPTR (pv64): the same for the user root; 0 clears it.</summary>
    public int NewUserBaseptr(ulong mfn)
    {
        ulong old = userTable;
        if (old == mfn)
            return 0;
        if (mfn != 0)
        {
            int rc = GetPageAndType(mfn, PageType.L4);
            if (rc != 0)
                return rc;
        }

        userTable = mfn;
        ctx.SetRoot(mfn, user: true);
        if (old != 0)
            PutPageType(old);
        return 0;
    }

    /// <summary>The root the vCPU holds for kernel mode (0 before <see cref="PinInitial"/>).</summary>
    public ulong KernelTable => kernelTable;

    /// <summary>pv64's user-mode root the vCPU holds a type reference on (0: none).</summary>
    public ulong UserTable => userTable;

    /// <summary>get_page_and_type_from_mfn: the frame must be the guest's, then <see cref="GetPageType"/>.</summary>
    internal int GetPageAndType(ulong mfn, PageType type, bool paeXenL2 = false) =>
        Frames.IsGuests(mfn) ? GetPageType(mfn, type, paeXenL2) : -XenErrno.EINVAL;

    /// <summary>
    /// _get_page_type: with no type references the frame may take any type (page tables and
    /// descriptor pages are validated on the way, and keep no type if that fails); otherwise the
    /// type (and PGT_pae_xen_l2) must match exactly, or it is -EINVAL. A frame being validated
    /// cannot be taken again.
    /// </summary>
    public int GetPageType(ulong mfn, PageType type, bool paeXenL2 = false, Func<ulong, int>? validateSegDesc = null)
    {
        if (!Frames.IsValid(mfn) || type == PageType.None)
            return -XenErrno.EINVAL;
        int count = Frames.TypeCount(mfn);
        if (count == int.MaxValue)
            return -XenErrno.EINVAL;
        if (count > 0)
        {
            if (Frames.Type(mfn) != type || Frames.IsPaeXenL2(mfn) != paeXenL2 || validating.Contains(mfn))
                return -XenErrno.EINVAL;
            Frames.Increment(mfn);
            return 0;
        }

        Frames.Set(mfn, type, paeXenL2);
        Frames.Increment(mfn);
        if (type == PageType.Writable)
            return 0;

        validating.Add(mfn);
        int rc = type == PageType.SegDesc ? validateSegDesc?.Invoke(mfn) ?? 0 : Promote(mfn, type, paeXenL2);
        validating.Remove(mfn);
        if (rc != 0)
        {
            Frames.Decrement(mfn);
            Frames.Set(mfn, PageType.None, false);
        }

        return rc;
    }

    /// <summary>
    /// _put_page_type: drops a type reference; a page table whose count falls to 0 is demoted
    /// (the references its entries hold are dropped) and may then take any type.
    /// </summary>
    public void PutPageType(ulong mfn)
    {
        if (Frames.TypeCount(mfn) <= 0)
            return;
        var type = Frames.Type(mfn);
        bool xenL2 = Frames.IsPaeXenL2(mfn);
        if (Frames.Decrement(mfn) != 0)
            return;
        if (type is PageType.L1 or PageType.L2 or PageType.L3 or PageType.L4)
            Demote(mfn, type, xenL2);
        Frames.Set(mfn, PageType.None, false);
    }

    /// <summary>
    /// flush_tlb_local (do_tlb_flush): with CR4.PGE, clearing and restoring it, which drops global
    /// translations too; without, a CR3 reload.
    /// </summary>
    public void FlushTlb()
    {
        var cpu = ctx.Cpu;
        ulong cr4 = cpu.Cr4Value;
        if ((cr4 & Cr4.PGE) != 0)
        {
            cpu.WriteControlRegister(4, cr4 & ~Cr4.PGE);
            cpu.WriteControlRegister(4, cr4);
        }
        else
        {
            cpu.WriteControlRegister(3, cpu.Cr3);
        }
    }

    /// <summary>paging_invlpg / flush_tlb_one_local: a non-canonical address is ignored.</summary>
    public void InvalidatePage(ulong linear)
    {
        if (X86Cpu.IsCanonical(linear))
            ctx.Cpu.InvalidatePage(linear);
    }

    private ulong ReadEntry(ulong mfn, int slot) => ctx.Cpu.ReadPhysical((mfn << 12) + ((ulong)slot * 8), 8);

    private void WriteEntry(ulong mfn, int slot, ulong value) => ctx.Cpu.WritePhysical((mfn << 12) + ((ulong)slot * 8), 8, value);
}
