namespace Xtf.Core.Xen.Pv.Memory;

/// <summary>
/// Changes of single entries (mod_lN_entry) and the lookup of the L1 entry that maps a linear
/// address (map_guest_l1e).
/// </summary>
public sealed partial class PvMemoryManager
{
    /// <summary>
    /// One MMU_NORMAL_PT_UPDATE / MMU_PT_UPDATE_PRESERVE_AD request of do_mmu_update: the entry at
    /// machine address <paramref name="entryAddress"/> (8-byte aligned) in a frame of the guest
    /// (-EINVAL otherwise). A validated page table is changed through mod_lN_entry; a frame with
    /// no type reference or a writable one is written as plain memory; a descriptor page is
    /// -EINVAL. <paramref name="foreignOwner"/>: the request names another domain as the owner
    /// of the frames mapped (only L1 entries may, and then only non-present ones validate).
    /// <paramref name="upperLevelChanged"/> is set when an L2-L4 entry changed (flush_linear_pt).
    /// </summary>
    public int UpdateEntry(ulong entryAddress, ulong value, bool preserveAd, bool foreignOwner, ref bool upperLevelChanged)
    {
        ulong mfn = entryAddress >> 12;
        if (!Frames.IsGuests(mfn))
            return -XenErrno.EINVAL;
        int slot = (int)((entryAddress & 0xFFF) >> 3);
        int rc;
        switch (Frames.Type(mfn))
        {
            case PageType.L1:
                return ModL1Entry(mfn, slot, value, preserveAd, foreignOwner);
            case PageType.L2:
                rc = foreignOwner ? -XenErrno.EINVAL : ModL2Entry(mfn, slot, value, preserveAd);
                break;
            case PageType.L3:
                rc = foreignOwner ? -XenErrno.EINVAL : ModL3Entry(mfn, slot, value, preserveAd);
                break;
            case PageType.L4:
                rc = foreignOwner ? -XenErrno.EINVAL : ModL4Entry(mfn, slot, value, preserveAd);
                break;
            case PageType.Writable:
                WriteEntry(mfn, slot, value);
                return 0;
            case PageType.None:
                // page_lock fails on a frame with no type reference: get_page_type(PGT_writable_page),
                // the write, put_page_type.
                GetPageType(mfn, PageType.Writable);
                WriteEntry(mfn, slot, value);
                PutPageType(mfn);
                return 0;
            default:
                return -XenErrno.EINVAL;
        }

        if (rc == 0)
            upperLevelChanged = true;
        return rc;
    }

    /// <summary>
    /// mod_l1_entry: a present entry is checked against L1_DISALLOW_MASK and adjusted; if only
    /// bits of FASTPATH_FLAG_WHITELIST change it is written as is, else the new target is
    /// referenced (get_page_from_l1e) before the entry is written and the old one released.
    /// </summary>
    internal int ModL1Entry(ulong table, int slot, ulong nl1e, bool preserveAd, bool foreignOwner)
    {
        ulong ol1e = ReadEntry(table, slot);
        if ((nl1e & Pte.Present) != 0)
        {
            if ((nl1e & Pte.L1Disallow) != 0)
                return -XenErrno.EINVAL;
            nl1e = AdjustL1e(nl1e);
            if (!Pte.HasChanged(ol1e, nl1e, ~Pte.FastpathWhitelist))
            {
                UpdateIntpte(table, slot, ol1e, nl1e, preserveAd);
                return 0;
            }

            int rc = GetFromL1e(nl1e, foreignOwner);
            if (rc != 0)
                return rc;
        }

        UpdateIntpte(table, slot, ol1e, nl1e, preserveAd);
        PutFromL1e(ol1e);
        return 0;
    }

    /// <summary>mod_l2_entry: Xen's slots of a pae_xen_l2 table are -EPERM; otherwise as for L1 with L2_DISALLOW_MASK.</summary>
    private int ModL2Entry(ulong table, int slot, ulong nl2e, bool preserveAd)
    {
        if (!IsGuestL2Slot(Frames.IsPaeXenL2(table), slot))
            return -XenErrno.EPERM;
        ulong ol2e = ReadEntry(table, slot);
        if ((nl2e & Pte.Present) != 0)
        {
            if ((nl2e & Pte.L2Disallow) != 0)
                return -XenErrno.EINVAL;
            nl2e = AdjustL2e(nl2e);
            if (!Pte.HasChanged(ol2e, nl2e, ~Pte.FastpathPdeWhitelist))
            {
                UpdateIntpte(table, slot, ol2e, nl2e, preserveAd);
                return 0;
            }

            int rc = GetFromL2e(nl2e, table);
            if (rc != 0)
                return rc;
        }

        UpdateIntpte(table, slot, ol2e, nl2e, preserveAd);
        PutFromUpperEntry(ol2e, table);
        return 0;
    }

    /// <summary>mod_l3_entry: pv32 may not change slot 3 (Xen's L2) or anything above it (-EINVAL).</summary>
    private int ModL3Entry(ulong table, int slot, ulong nl3e, bool preserveAd)
    {
        if (Compat && slot >= 3)
            return -XenErrno.EINVAL;
        ulong ol3e = ReadEntry(table, slot);
        if ((nl3e & Pte.Present) != 0)
        {
            if ((nl3e & L3Disallow) != 0)
                return -XenErrno.EINVAL;
            nl3e = AdjustL3e(nl3e);
            if (!Pte.HasChanged(ol3e, nl3e, ~Pte.FastpathPdeWhitelist))
            {
                UpdateIntpte(table, slot, ol3e, nl3e, preserveAd);
                return 0;
            }

            int rc = GetFromL3e(nl3e, table);
            if (rc != 0)
                return rc;
        }

        UpdateIntpte(table, slot, ol3e, nl3e, preserveAd);
        PutFromUpperEntry(ol3e, table);
        return 0;
    }

    /// <summary>mod_l4_entry: Xen's slots (256-271 for pv64) are -EINVAL.</summary>
    private int ModL4Entry(ulong table, int slot, ulong nl4e, bool preserveAd)
    {
        if (!IsGuestL4Slot(slot))
            return -XenErrno.EINVAL;
        ulong ol4e = ReadEntry(table, slot);
        if ((nl4e & Pte.Present) != 0)
        {
            if ((nl4e & Pte.L4Disallow) != 0)
                return -XenErrno.EINVAL;
            nl4e = AdjustL4e(nl4e);
            if (!Pte.HasChanged(ol4e, nl4e, ~Pte.FastpathPdeWhitelist))
            {
                UpdateIntpte(table, slot, ol4e, nl4e, preserveAd);
                return 0;
            }

            int rc = GetFromL4e(nl4e, table);
            if (rc != 0)
                return rc;
        }

        UpdateIntpte(table, slot, ol4e, nl4e, preserveAd);
        PutFromUpperEntry(ol4e, table);
        return 0;
    }

    /// <summary>update_intpte: MMU_PT_UPDATE_PRESERVE_AD keeps the A and D bits the old entry has.</summary>
    private void UpdateIntpte(ulong table, int slot, ulong old, ulong value, bool preserveAd)
    {
        if (preserveAd)
            value |= old & (Pte.Accessed | Pte.Dirty);
        WriteEntry(table, slot, value);
    }

    /// <summary>
    /// map_guest_l1e: the L1 table and slot mapping <paramref name="linear"/> in the tables the
    /// vCPU runs on (CR3; a pv32 guest's L3 sits in slot 0 of Xen's L4). Fails for an address
    /// outside the guest's range (__addr_ok) or when an upper level is not present, or is a
    /// superpage.
    /// </summary>
    public bool TryFindL1(ulong linear, out ulong l1Mfn, out int slot)
    {
        l1Mfn = 0;
        slot = (int)((linear >> 12) & 511);
        if (Compat ? linear > 0xFFFF_FFFF : !PvLayout.AddressOk64(linear))
            return false;
        ulong table = Pte.Mfn(ctx.Cpu.Cr3);
        for (int shift = 39; shift >= 21; shift -= 9)
        {
            if (!Frames.IsValid(table))
                return false;
            ulong e = ReadEntry(table, (int)((linear >> shift) & 511));
            if ((e & Pte.Present) == 0 || (shift < 39 && (e & Pte.Pse) != 0))
                return false;
            table = Pte.Mfn(e);
        }

        l1Mfn = table;
        return true;
    }
}
