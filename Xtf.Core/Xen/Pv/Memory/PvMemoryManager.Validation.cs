namespace Xtf.Core.Xen.Pv.Memory;

/// <summary>
/// Validation of page-table entries (get_page_from_lNe / put_page_from_lNe) and of whole tables
/// when they take or lose a page-table type (promote_lN_table / demote_lN_table).
/// </summary>
public sealed partial class PvMemoryManager
{
    /// <summary>
    /// get_page_from_l1e: reserved flags -EINVAL; a frame outside machine memory is MMIO, which
    /// an unprivileged domain may not map (-EPERM; the all-ones "invalid MFN" -EINVAL); a frame
    /// that is not the page owner's (Xen's, or the guest's when another domain is named as the
    /// owner) -EBUSY; a writable mapping needs a PGT_writable_page reference, which a page-table
    /// or descriptor page cannot give (-EBUSY).
    /// </summary>
    internal int GetFromL1e(ulong l1e, bool foreignOwner)
    {
        if ((l1e & Pte.L1Disallow) != 0)
            return -XenErrno.EINVAL;
        ulong mfn = Pte.Mfn(l1e);
        if (!Frames.IsValid(mfn))
            return mfn == Pte.InvalidMfn ? -XenErrno.EINVAL : -XenErrno.EPERM;
        if (!Frames.IsGuests(mfn) || foreignOwner)
            return -XenErrno.EBUSY;
        if ((l1e & Pte.Rw) != 0 && GetPageType(mfn, PageType.Writable) != 0)
            return -XenErrno.EBUSY;
        Frames.AddMapping(mfn);
        return 0;
    }

    /// <summary>put_page_from_l1e: a present entry gives back its page reference (counted for shared hypervisor frames), a writable one its PGT_writable_page reference too.</summary>
    internal void PutFromL1e(ulong l1e)
    {
        ulong mfn = Pte.Mfn(l1e);
        // A grant PTE's references (taken by map_grant_ref) go too: Xen's debug build then
        // also injects #GP ("Attempt to implicitly unmap a grant PTE"), which is not modelled.
        if ((l1e & Pte.Present) == 0 || !Frames.IsGuests(mfn))
            return;
        Frames.RemoveMapping(mfn);
        if ((l1e & Pte.Rw) != 0)
            PutPageType(mfn);
    }

    /// <summary>get_page_from_l2e: L2_DISALLOW_MASK (PSE included: no superpages for PV), then an L1 reference.</summary>
    private int GetFromL2e(ulong l2e, ulong l2Mfn)
    {
        if ((l2e & Pte.L2Disallow) != 0)
            return -XenErrno.EINVAL;
        int rc = GetPageAndType(Pte.Mfn(l2e), PageType.L1);
        return rc == -XenErrno.EINVAL && GetLinearPagetable(l2e, l2Mfn, PageType.L2) ? 0 : rc;
    }

    /// <summary>get_page_from_l3e: l3_disallow_mask(d), then an L2 reference (no linear L3 tables for pv32).</summary>
    private int GetFromL3e(ulong l3e, ulong l3Mfn)
    {
        if ((l3e & L3Disallow) != 0)
            return -XenErrno.EINVAL;
        int rc = GetPageAndType(Pte.Mfn(l3e), PageType.L2);
        return rc == -XenErrno.EINVAL && !Compat && GetLinearPagetable(l3e, l3Mfn, PageType.L3) ? 0 : rc;
    }

    /// <summary>get_page_from_l4e: L4_DISALLOW_MASK, then an L3 reference.</summary>
    private int GetFromL4e(ulong l4e, ulong l4Mfn)
    {
        if ((l4e & Pte.L4Disallow) != 0)
            return -XenErrno.EINVAL;
        int rc = GetPageAndType(Pte.Mfn(l4e), PageType.L3);
        return rc == -XenErrno.EINVAL && GetLinearPagetable(l4e, l4Mfn, PageType.L4) ? 0 : rc;
    }

    private ulong L3Disallow => Compat ? Pte.L3DisallowCompat : Pte.L3Disallow;

    /// <summary>
    /// get_lN_linear_pagetable (pv-linear-pt, on by default): an entry naming a table of its own
    /// level must be read-only; naming its own table it takes nothing, naming another it takes a
    /// type reference on that already-validated table.
    /// </summary>
    private bool GetLinearPagetable(ulong entry, ulong tableMfn, PageType level)
    {
        if ((entry & Pte.Rw) != 0)
            return false;
        ulong mfn = Pte.Mfn(entry);
        if (mfn == tableMfn)
            return true;
        if (!Frames.IsGuests(mfn) || Frames.Type(mfn) != level || validating.Contains(mfn))
            return false;
        return GetPageType(mfn, level, Frames.IsPaeXenL2(mfn)) == 0;
    }

    /// <summary>put_page_from_l2e/l3e/l4e: an entry naming its own table held nothing.</summary>
    private void PutFromUpperEntry(ulong entry, ulong tableMfn)
    {
        ulong mfn = Pte.Mfn(entry);
        if ((entry & Pte.Present) == 0 || mfn == tableMfn)
            return;
        PutPageType(mfn);
    }

    /// <summary>adjust_guest_l1e (pv64): a kernel mapping (U clear) gets U and _PAGE_GUEST_KERNEL; a user mapping gets U and G.</summary>
    internal ulong AdjustL1e(ulong l1e)
    {
        if ((l1e & Pte.Present) == 0 || Compat)
            return l1e;
        if ((l1e & Pte.User) == 0)
            l1e |= Pte.GuestKernel | Pte.User;
        if ((l1e & Pte.GuestKernel) == 0)
            l1e |= Pte.Global | Pte.User;
        return l1e;
    }

    /// <summary>adjust_guest_l2e: pv64 adds U.</summary>
    private ulong AdjustL2e(ulong l2e) => (l2e & Pte.Present) != 0 && !Compat ? l2e | Pte.User : l2e;

    /// <summary>adjust_guest_l3e: pv64 adds U; pv32 adds U and RW (its PAE PDPTEs run as long-mode L3 entries).</summary>
    private ulong AdjustL3e(ulong l3e) => (l3e & Pte.Present) == 0 ? l3e : l3e | (Compat ? Pte.User | Pte.Rw : Pte.User);

    /// <summary>unadjust_guest_l3e: pv32 drops U, RW and A again when the table is demoted.</summary>
    private ulong UnadjustL3e(ulong l3e) =>
        Compat && (l3e & Pte.Present) != 0 ? l3e & ~(Pte.User | Pte.Rw | Pte.Accessed) : l3e;

    /// <summary>adjust_guest_l4e: A always, U for pv64.</summary>
    private ulong AdjustL4e(ulong l4e) => (l4e & Pte.Present) == 0 ? l4e : l4e | Pte.Accessed | (Compat ? 0 : Pte.User);

    /// <summary>is_guest_l2_slot: in a PGT_pae_xen_l2 table, slots from 428 up are Xen's.</summary>
    private static bool IsGuestL2Slot(bool paeXenL2, int slot) => !paeXenL2 || slot < PvLayout.FirstCompatXenL2Slot;

    /// <summary>is_guest_l4_slot: pv32 only slot 0; pv64 all but 256-271.</summary>
    private bool IsGuestL4Slot(int slot) =>
        Compat ? slot == 0 : slot < PvLayout.FirstXenL4Slot || slot > PvLayout.LastXenL4Slot;

    private int Promote(ulong mfn, PageType type, bool paeXenL2) => type switch
    {
        PageType.L1 => PromoteL1(mfn),
        PageType.L2 => PromoteL2(mfn, paeXenL2),
        PageType.L3 => PromoteL3(mfn),
        _ => PromoteL4(mfn),
    };

    /// <summary>promote_l1_table: every present entry validated and adjusted; on a failure the references taken are dropped.</summary>
    private int PromoteL1(ulong mfn)
    {
        for (int i = 0; i < EntriesPerTable; i++)
        {
            ulong e = ReadEntry(mfn, i);
            if ((e & Pte.Present) != 0)
            {
                int rc = GetFromL1e(e, foreignOwner: false);
                if (rc != 0)
                {
                    while (i-- > 0)
                        PutFromL1e(ReadEntry(mfn, i));
                    return rc;
                }
            }

            WriteIfChanged(mfn, i, e, AdjustL1e(e));
        }

        return 0;
    }

    /// <summary>promote_l2_table: the guest's slots validated and adjusted; a pae_xen_l2 table then gets Xen's slots.</summary>
    private int PromoteL2(ulong mfn, bool paeXenL2)
    {
        for (int i = 0; i < EntriesPerTable; i++)
        {
            if (!IsGuestL2Slot(paeXenL2, i))
                continue;
            ulong e = ReadEntry(mfn, i);
            if ((e & Pte.Present) == 0)
                continue;
            int rc = GetFromL2e(e, mfn);
            if (rc != 0)
            {
                while (i-- > 0)
                    PutFromUpperEntry(ReadEntry(mfn, i), mfn);
                return rc;
            }

            WriteIfChanged(mfn, i, e, AdjustL2e(e));
        }

        if (paeXenL2)
            ctx.InitXenPaeL2Slots(mfn);
        return 0;
    }

    /// <summary>
    /// promote_l3_table. pv32: entries 4-511 are cleared (the MMU sees the whole page); slot 3 must
    /// be present and name an L2 that takes the PGT_pae_xen_l2 type and is referenced by no other
    /// table (pae_xen_mappings_check), else -EINVAL.
    /// </summary>
    private int PromoteL3(ulong mfn)
    {
        if (Compat)
        {
            for (int i = 4; i < EntriesPerTable; i++)
                WriteIfChanged(mfn, i, ReadEntry(mfn, i), 0);
        }

        int limit = Compat ? 4 : EntriesPerTable;
        for (int i = 0; i < limit; i++)
        {
            ulong e = ReadEntry(mfn, i);
            int rc;
            if (Compat && i == 3)
            {
                rc = (e & Pte.Present) == 0 || (e & L3Disallow) != 0
                    ? -XenErrno.EINVAL
                    : GetPageAndType(Pte.Mfn(e), PageType.L2, paeXenL2: true);
                if (rc == 0 && Frames.TypeCount(Pte.Mfn(e)) != 1)
                {
                    PutPageType(Pte.Mfn(e));
                    rc = -XenErrno.EINVAL;
                }
            }
            else if ((e & Pte.Present) == 0)
            {
                continue;
            }
            else
            {
                rc = GetFromL3e(e, mfn);
            }

            if (rc != 0)
            {
                while (i-- > 0)
                {
                    ulong done = ReadEntry(mfn, i);
                    PutFromUpperEntry(done, mfn);
                    WriteIfChanged(mfn, i, done, UnadjustL3e(done));
                }

                return rc;
            }

            WriteIfChanged(mfn, i, e, AdjustL3e(e));
        }

        return 0;
    }

    /// <summary>promote_l4_table: the guest's slots validated and adjusted, then Xen's slots written (init_xen_l4_slots).</summary>
    private int PromoteL4(ulong mfn)
    {
        for (int i = 0; i < EntriesPerTable; i++)
        {
            if (!IsGuestL4Slot(i))
                continue;
            ulong e = ReadEntry(mfn, i);
            if ((e & Pte.Present) == 0)
                continue;
            int rc = GetFromL4e(e, mfn);
            if (rc != 0)
            {
                while (i-- > 0)
                {
                    if (IsGuestL4Slot(i))
                        PutFromUpperEntry(ReadEntry(mfn, i), mfn);
                }

                return rc;
            }

            WriteIfChanged(mfn, i, e, AdjustL4e(e));
        }

        if (!Compat)
            ctx.InitXenL4Slots(mfn);
        return 0;
    }

    /// <summary>demote_lN_table: the references every guest entry holds are dropped (pv32 L3 entries un-adjusted).</summary>
    private void Demote(ulong mfn, PageType type, bool paeXenL2)
    {
        for (int i = EntriesPerTable - 1; i >= 0; i--)
        {
            ulong e = ReadEntry(mfn, i);
            switch (type)
            {
                case PageType.L1:
                    PutFromL1e(e);
                    break;
                case PageType.L2:
                    if (IsGuestL2Slot(paeXenL2, i))
                        PutFromUpperEntry(e, mfn);
                    break;
                case PageType.L3:
                    PutFromUpperEntry(e, mfn);
                    WriteIfChanged(mfn, i, e, UnadjustL3e(e));
                    break;
                default:
                    if (IsGuestL4Slot(i))
                        PutFromUpperEntry(e, mfn);
                    break;
            }
        }
    }

    private void WriteIfChanged(ulong mfn, int slot, ulong old, ulong value)
    {
        if (value != old)
            WriteEntry(mfn, slot, value);
    }
}
