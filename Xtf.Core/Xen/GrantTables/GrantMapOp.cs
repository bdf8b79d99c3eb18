using System.Buffers.Binary;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.Hypercalls;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Core.Xen.GrantTables;

/// <summary>
/// GNTTABOP_map_grant_ref, unmap_grant_ref and unmap_and_replace for a PV caller
/// (xen/common/grant_table.c map_grant_ref / unmap_common / unmap_common_complete,
/// xen/arch/x86/pv/grant_table.c create_grant_pv_mapping / replace_grant_pv_mapping /
/// steal_linear_address). Full-page permit_access grants of v1 and v2 tables; transitive and
/// sub-page grants, copy, transfer and HVM (p2m) grant mappings are not implemented. Layouts are
/// the same for both ABIs: map { uint64 host_addr @0, uint32 flags @8, ref @12, domid @16,
/// int16 status @18, uint32 handle @20, uint64 dev_bus_addr @24 } (32 bytes); unmap
/// { host_addr @0, dev_bus_addr @8, handle @16, status @20 } and unmap_and_replace
/// { host_addr @0, new_addr @8, handle @16, status @20 } (24 bytes).
/// </summary>
internal static class GrantMapOp
{
    /// <summary>Sizes of gnttab_map_grant_ref and gnttab_unmap_grant_ref (public/grant_table.h).</summary>
    public const int MapSize = 32, UnmapSize = 24;

    /// <summary>The grants of dom0's table as we see them: it exists and has INITIAL_NR_GRANT_FRAMES of v1 entries, none granted to us.</summary>
    private const uint Dom0Entries = 4096 / GrantLayout.EntryV1Size;

    public static long Map(IHypercallContext pv, PvMemoryManager mmu, ulong uop, uint count)
    {
        if (!GuestHandle.Okay(pv, uop, (ulong)count * MapSize))
            return -XenErrno.EFAULT;
        var op = new byte[MapSize];
        for (uint i = 0; i < count; i++)
        {
            // gnttab_map_grant_ref: "if ( i && hypercall_preempt_check() ) return i;"
            if (i > 0 && pv.Preemption.Check())
                return i;
            ulong at = uop + ((ulong)i * MapSize);
            if (!pv.Guest.TryRead(at, op))
                return -XenErrno.EFAULT;
            MapOne(pv, mmu, op);
            if (!pv.Guest.TryWrite(at, op))
                return -XenErrno.EFAULT;
        }

        return 0;
    }

    public static long Unmap(IHypercallContext pv, PvMemoryManager mmu, ulong uop, uint count, bool replace)
    {
        if (!GuestHandle.Okay(pv, uop, (ulong)count * UnmapSize))
            return -XenErrno.EFAULT;
        var op = new byte[UnmapSize];
        var b = new byte[2];
        uint i = 0;
        for (; i < count; i++)
        {
            // As map_grant_ref: preempted, the number done (the flush below still runs).
            if (i > 0 && pv.Preemption.Check())
                break;

            ulong at = uop + ((ulong)i * UnmapSize);
            if (!pv.Guest.TryRead(at, op))
                return -XenErrno.EFAULT;
            ulong host = BinaryPrimitives.ReadUInt64LittleEndian(op);
            ulong second = BinaryPrimitives.ReadUInt64LittleEndian(op.AsSpan(8));
            uint handle = BinaryPrimitives.ReadUInt32LittleEndian(op.AsSpan(16));
            short status = replace
                ? UnmapOne(pv, mmu, host, devBusAddr: 0, newAddr: second, handle, replace: true)
                : UnmapOne(pv, mmu, host, devBusAddr: second, newAddr: 0, handle, replace: false);
            BinaryPrimitives.WriteInt16LittleEndian(b, status);
            if (!pv.Guest.TryWrite(at + 20, b))
                return -XenErrno.EFAULT;
        }

        // gnttab_flush_tlb after the batch: the old translations of the unmapped addresses go.
        mmu.FlushTlb();
        return i < count ? i : 0;
    }

    /// <summary>map_grant_ref for one request, writing status, and on success handle and dev_bus_addr.</summary>
    private static void MapOne(IHypercallContext pv, PvMemoryManager mmu, byte[] op)
    {
        ulong hostAddr = BinaryPrimitives.ReadUInt64LittleEndian(op);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(op.AsSpan(8));
        uint reference = BinaryPrimitives.ReadUInt32LittleEndian(op.AsSpan(12));
        ushort dom = BinaryPrimitives.ReadUInt16LittleEndian(op.AsSpan(16));
        short status = MapCore(pv, mmu, hostAddr, flags, reference, dom, out uint handle, out ulong mfn);
        BinaryPrimitives.WriteInt16LittleEndian(op.AsSpan(18), status);
        if (status == GntSt.Okay)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(op.AsSpan(20), handle);
            BinaryPrimitives.WriteUInt64LittleEndian(op.AsSpan(24), mfn << 12);
        }
    }

    private static short MapCore(IHypercallContext pv, PvMemoryManager mmu, ulong hostAddr, uint flags, uint reference, ushort dom, out uint handle, out ulong mfn)
    {
        handle = 0;
        mfn = 0;
        bool ro = (flags & GntMap.Readonly) != 0;
        bool device = (flags & GntMap.DeviceMap) != 0, host = (flags & GntMap.HostMap) != 0;
        if (!device && !host)
            return GntSt.BadGntref;

        // rcu_lock_domain_by_id: DOMID_SELF is not an id; dom0 exists.
        var lgt = pv.Domain.GrantTable;
        if (dom == DomainId.Dom0)
            return reference >= Dom0Entries ? GntSt.BadGntref : GntSt.GeneralError;
        if (dom != pv.Domain.Id)
            return GntSt.BadDomain;
        var rgt = lgt;
        if (reference >= rgt.EntryCount)
            return GntSt.BadGntref;

        rgt.Active.TryGetValue(reference, out var act);
        if (act is { Pinned: true } && act.Domid != pv.Domain.Id)
            return GntSt.GeneralError;

        bool pinStatus = act is not { Pinned: true } || (!ro && !act.WritePinned);
        if (pinStatus)
        {
            short rc = SetStatus(rgt, reference, ro, pv.Domain.Id);
            if (rc != GntSt.Okay)
                return rc;
        }

        if (act is not { Pinned: true })
        {
            ulong gfn = rgt.ReadEntry(reference).Frame;
            // get_paged_frame: for PV the gfn is the mfn; it must be a page of the granting domain.
            if (!mmu.Frames.IsGuests(gfn))
            {
                if (pinStatus)
                    ReduceStatus(rgt, reference, act, ro);
                return GntSt.BadPage;
            }

            act = new ActiveGrant { Domid = pv.Domain.Id, Mfn = gfn };
            rgt.Active[reference] = act;
        }

        mfn = act!.Mfn;
        Pin(act, flags, +1);

        int typecnt = 0;
        bool hostCreated = false;
        short result = GntSt.Okay;
        if (device && !ro)
        {
            if (mmu.GetPageType(mfn, PageType.Writable) != 0)
                result = GntSt.GeneralError;
            else
                typecnt++;
        }

        if (result == GntSt.Okay && host)
        {
            // gnttab_host_mapping_get_page_type: a writable host mapping by a PV domain.
            if (!ro)
            {
                if (mmu.GetPageType(mfn, PageType.Writable) != 0)
                    result = GntSt.GeneralError;
                else
                    typecnt++;
            }

            if (result == GntSt.Okay)
            {
                result = CreatePvMapping(pv, mmu, hostAddr, mfn, flags);
                hostCreated = result == GntSt.Okay;
            }
        }

        if (result != GntSt.Okay)
        {
            if (hostCreated)
                ReplacePvMapping(pv, mmu, hostAddr, mfn, 0, flags);
            for (; typecnt > 0; typecnt--)
                mmu.PutPageType(mfn);
            Pin(act, flags, -1);
            ReduceStatus(rgt, reference, act, ro);
            if (!act.Pinned)
                rgt.Active.Remove(reference);
            return result;
        }

        int h = lgt.Maptrack.FindIndex(m => m.Flags == 0);
        if (h < 0)
        {
            h = lgt.Maptrack.Count;
            lgt.Maptrack.Add(new GrantMapping());
        }

        lgt.Maptrack[h].Domid = dom;
        lgt.Maptrack[h].Ref = reference;
        lgt.Maptrack[h].Flags = flags;
        handle = (uint)h;
        return GntSt.Okay;
    }

    /// <summary>unmap_common plus unmap_common_complete for one request.</summary>
    private static short UnmapOne(IHypercallContext pv, PvMemoryManager mmu, ulong hostAddr, ulong devBusAddr, ulong newAddr, uint handle, bool replace)
    {
        var lgt = pv.Domain.GrantTable;
        if (handle >= lgt.Maptrack.Count || lgt.Maptrack[(int)handle].Flags == 0)
            return GntSt.BadHandle;
        var map = lgt.Maptrack[(int)handle];
        var rgt = lgt;
        if (map.Ref >= rgt.EntryCount || !rgt.Active.TryGetValue(map.Ref, out var act))
            return GntSt.BadHandle;
        uint flags = map.Flags;
        ulong mfn = act.Mfn;
        if (devBusAddr != 0 && (flags & GntMap.DeviceMap) != 0 && devBusAddr != mfn << 12)
            return GntSt.BadDevAddr;

        uint done = 0;
        if (hostAddr != 0 && (flags & GntMap.HostMap) != 0)
        {
            short rc = ReplacePvMapping(pv, mmu, hostAddr, mfn, replace ? newAddr : 0, flags);
            if (rc != GntSt.Okay)
                return rc;
            map.Flags &= ~GntMap.HostMap;
            done |= GntMap.HostMap | (flags & GntMap.Readonly);
        }

        if (devBusAddr != 0 && (flags & GntMap.DeviceMap) != 0)
        {
            map.Flags &= ~GntMap.DeviceMap;
            done |= GntMap.DeviceMap | (flags & GntMap.Readonly);
        }

        if ((map.Flags & (GntMap.DeviceMap | GntMap.HostMap)) == 0)
            map.Flags = 0;

        // unmap_common_complete: each mapping undone gives back its type reference (writable
        // ones) and its pin.
        bool ro = (done & GntMap.Readonly) != 0;
        if ((done & GntMap.DeviceMap) != 0)
        {
            if (!ro)
                mmu.PutPageType(mfn);
            Pin(act, GntMap.DeviceMap | (done & GntMap.Readonly), -1);
        }

        if ((done & GntMap.HostMap) != 0)
        {
            if (!ro)
                mmu.PutPageType(mfn);
            Pin(act, GntMap.HostMap | (done & GntMap.Readonly), -1);
        }

        if (done != 0)
            ReduceStatus(rgt, map.Ref, act, ro);
        if (!act.Pinned)
            rgt.Active.Remove(map.Ref);
        return GntSt.Okay;
    }

    private static void Pin(ActiveGrant act, uint flags, int delta)
    {
        bool ro = (flags & GntMap.Readonly) != 0;
        if ((flags & GntMap.DeviceMap) != 0)
        {
            if (ro)
                act.DeviceRead += delta;
            else
                act.DeviceWrite += delta;
        }

        if ((flags & GntMap.HostMap) != 0)
        {
            if (ro)
                act.HostRead += delta;
            else
                act.HostWrite += delta;
        }
    }

    /// <summary>
    /// _set_status_v1 / _set_status_v2 for a mapping: the entry must be permit_access (not
    /// sub-page) for our domain id, and not GTF_readonly for a writable pin (general_error
    /// otherwise); GTF_reading, and for a writable pin GTF_writing, are set in the status word.
    /// </summary>
    private static short SetStatus(GrantTable gt, uint reference, bool ro, ushort ldomid)
    {
        var (entryFlags, domid, _) = gt.ReadEntry(reference);
        if ((entryFlags & (Gtf.TypeMask | Gtf.SubPage)) != Gtf.PermitAccess || domid != ldomid)
            return GntSt.GeneralError;
        if (!ro && (entryFlags & Gtf.Readonly) != 0)
            return GntSt.GeneralError;
        ushort s = gt.ReadStatus(reference);
        s |= Gtf.Reading;
        if (!ro)
            s |= Gtf.Writing;
        gt.WriteStatus(reference, s);
        return GntSt.Okay;
    }

    /// <summary>reduce_status_for_pin: GTF_writing goes with the last writable pin, GTF_reading with the last pin.</summary>
    private static void ReduceStatus(GrantTable gt, uint reference, ActiveGrant? act, bool ro)
    {
        ushort s = gt.ReadStatus(reference);
        if (!ro && act is not { WritePinned: true })
            s &= unchecked((ushort)~Gtf.Writing);
        if (act is not { Pinned: true })
            s &= unchecked((ushort)~Gtf.Reading);
        gt.WriteStatus(reference, s);
    }

    /// <summary>grant_to_pte_flags (cache_flags 0 for RAM): P A D _PAGE_GNTTAB NX, U for application_map, RW unless readonly, the guest-available bits.</summary>
    private static ulong GrantPteFlags(uint flags)
    {
        ulong f = Pte.Present | Pte.Accessed | Pte.Dirty | Pte.GntTab | Pte.Nx;
        if ((flags & GntMap.ApplicationMap) != 0)
            f |= Pte.User;
        if ((flags & GntMap.Readonly) == 0)
            f |= Pte.Rw;
        f |= (ulong)((flags >> GntMap.GuestAvail0Shift) & 7) << 9;
        return f;
    }

    /// <summary>The L1 entry <paramref name="addr"/> names: the machine address of an L1 slot (contains_pte, 8-byte aligned) or the slot mapping a linear address; it must be one of the guest's frames typed L1.</summary>
    private static bool TryLocate(IHypercallContext pv, PvMemoryManager mmu, ulong addr, bool containsPte, out ulong l1, out int slot)
    {
        l1 = 0;
        slot = 0;
        if (containsPte)
        {
            if ((addr & 7) != 0)
                return false;
            l1 = addr >> 12;
            slot = (int)((addr & 0xFFF) >> 3);
        }
        else
        {
            if (!pv.Is64Bit && addr != (uint)addr)
                return false;
            if (!mmu.TryFindL1(addr, out l1, out slot))
                return false;
        }

        return mmu.Frames.Owner(l1) == FrameOwner.Guest && mmu.Frames.Type(l1) == PageType.L1;
    }

    /// <summary>create_grant_pv_mapping: writes the grant PTE (adjusted as adjust_guest_l1e does) and drops the old entry's references.</summary>
    private static short CreatePvMapping(IHypercallContext pv, PvMemoryManager mmu, ulong addr, ulong mfn, uint flags)
    {
        if (!TryLocate(pv, mmu, addr, (flags & GntMap.ContainsPte) != 0, out ulong l1, out int slot))
            return GntSt.GeneralError;
        ulong nl1e = mmu.AdjustL1e((mfn << 12) | GrantPteFlags(flags));
        ulong entry = (l1 << 12) + ((ulong)slot * 8);
        ulong ol1e = mmu.Context.Cpu.ReadPhysical(entry, 8);
        mmu.Context.Cpu.WritePhysical(entry, 8, nl1e);
        mmu.PutFromL1e(ol1e);
        return GntSt.Okay;
    }

    /// <summary>
    /// replace_grant_pv_mapping: the entry at <paramref name="addr"/> must map
    /// <paramref name="mfn"/> with the grant's present and RW bits (general_error otherwise);
    /// it becomes empty, or (unmap_and_replace, linear addresses only) the entry stolen from
    /// <paramref name="newAddr"/>, which is emptied. On failure a stolen entry's references are
    /// dropped.
    /// </summary>
    private static short ReplacePvMapping(IHypercallContext pv, PvMemoryManager mmu, ulong addr, ulong mfn, ulong newAddr, uint flags)
    {
        bool containsPte = (flags & GntMap.ContainsPte) != 0;
        ulong grantFlags = GrantPteFlags(flags);
        if (pv.Is64Bit)
            grantFlags |= (grantFlags & Pte.User) != 0 ? Pte.Global : Pte.GuestKernel | Pte.User;
        ulong nl1e = 0;
        if (containsPte && newAddr != 0)
            return GntSt.GeneralError;
        if (!containsPte && !pv.Is64Bit && newAddr != (uint)newAddr)
            return GntSt.GeneralError;
        if (newAddr != 0)
        {
            // steal_linear_address.
            if (!TryLocate(pv, mmu, newAddr, false, out ulong nl1, out int nslot))
                return GntSt.GeneralError;
            ulong at = (nl1 << 12) + ((ulong)nslot * 8);
            nl1e = mmu.Context.Cpu.ReadPhysical(at, 8);
            mmu.Context.Cpu.WritePhysical(at, 8, 0);
        }

        short rc = GntSt.GeneralError;
        if (TryLocate(pv, mmu, addr, containsPte, out ulong l1, out int slot))
        {
            ulong entry = (l1 << 12) + ((ulong)slot * 8);
            ulong ol1e = mmu.Context.Cpu.ReadPhysical(entry, 8);
            if (Pte.Mfn(ol1e) == mfn && ((ol1e ^ grantFlags) & (Pte.Present | Pte.Rw)) == 0)
            {
                mmu.Context.Cpu.WritePhysical(entry, 8, nl1e);
                rc = GntSt.Okay;
            }
        }

        if (rc != GntSt.Okay)
            mmu.PutFromL1e(nl1e);
        return rc;
    }
}
