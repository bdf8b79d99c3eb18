using System.Buffers.Binary;
using Xtf.Core.Xen.Hypercalls;

namespace Xtf.Core.Xen.GrantTables;

/// <summary>
/// HYPERVISOR_grant_table_op(cmd, uop, count) (xen/common/grant_table.c do_grant_table_op,
/// xen/common/compat/grant_table.c for 32-bit callers). Implemented: setup_table, query_size,
/// set_version, get_status_frames, get_version. The grant mapping, copy, transfer and swap
/// operations are not implemented yet and return -ENOSYS; GNTTABOP_cache_flush is -ENOSYS as on
/// x86 Xen since 4.21 (commit 5642a6055c "x86/gnttab: do not implement GNTTABOP_cache_flush":
/// CONFIG_HAS_GRANT_CACHE_FLUSH is selected by Arm only).
/// </summary>
internal static class GrantTableOp
{
    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        uint cmd = (uint)a.A1;
        uint count = (uint)a.A3;
        // do_grant_table_op: "(int)count < 0" is -EINVAL; only cache_flush may carry bits above GNTTABOP_CMD_MASK.
        if ((int)count < 0)
            return -XenErrno.EINVAL;
        uint op = cmd & GnttabOp.CmdMask;
        if (op != GnttabOp.CacheFlush && (cmd & ~GnttabOp.CmdMask) != 0)
            return -XenErrno.EINVAL;
        var gt = ctx.Domain.GrantTable;
        long rc = Dispatch(ctx, gt, op, a.A2, count);

        // do_grant_table_op: a batch that returned how many it did (preempted) continues with the
        // rest, uop advanced past them: hypercall_create_continuation(..., "ihi", cmd, uop, count - rc).
        if (rc > 0 && op is GnttabOp.MapGrantRef or GnttabOp.UnmapGrantRef or GnttabOp.UnmapAndReplace)
        {
            int size = op == GnttabOp.MapGrantRef ? GrantMapOp.MapSize : GrantMapOp.UnmapSize;
            return ctx.Preemption.CreateContinuation(HypercallNumber.GrantTableOp, cmd, a.A2 + ((ulong)rc * (ulong)size), count - (uint)rc);
        }

        return rc;
    }

    private static long Dispatch(IHypercallContext ctx, GrantTable gt, uint op, ulong uop, uint count) => op switch
    {
        GnttabOp.SetupTable => SetupTable(ctx, gt, uop, count),
        GnttabOp.QuerySize => QuerySize(ctx, gt, uop, count),
        GnttabOp.SetVersion => SetVersion(ctx, gt, uop),
        GnttabOp.GetStatusFrames => GetStatusFrames(ctx, gt, uop, count),
        GnttabOp.GetVersion => GetVersion(ctx, gt, uop),
        GnttabOp.MapGrantRef when ctx is Pv.PvDomain pv => GrantMapOp.Map(pv, pv.Mmu, uop, count),
        GnttabOp.UnmapGrantRef when ctx is Pv.PvDomain pv => GrantMapOp.Unmap(pv, pv.Mmu, uop, count, replace: false),
        GnttabOp.UnmapAndReplace when ctx is Pv.PvDomain pv => GrantMapOp.Unmap(pv, pv.Mmu, uop, count, replace: true),
        _ => -XenErrno.ENOSYS,
    };

    /// <summary>rcu_lock_domain_by_any_id plus XSM_TARGET as a GNTST code: dom0 exists but is not ours (permission_denied), any other id is no domain.</summary>
    private static short DomainStatus(IHypercallContext ctx, ushort dom) => ctx.Domain.CheckTarget(dom) switch
    {
        0 => GntSt.Okay,
        -XenErrno.EPERM => GntSt.PermissionDenied,
        _ => GntSt.BadDomain,
    };

    /// <summary>
    /// gnttab_setup_table: struct { domid_t dom; uint32_t nr_frames; int16_t status;
    /// XEN_GUEST_HANDLE(xen_pfn_t) frame_list; } (native: 24 bytes, handle at 16, 8-byte pfns;
    /// compat: 16 bytes, handle at 12, 4-byte pfns). count != 1 -EINVAL, the copy -EFAULT, a
    /// frame list outside guest space -EFAULT; then status: bad domain, permission denied, more
    /// than max_grant_frames general_error, growth failure general_error; each frame's gfn is
    /// written (a fault there: bad_virt_addr). Only status is written back.
    /// </summary>
    private static long SetupTable(IHypercallContext ctx, GrantTable gt, ulong uop, uint count)
    {
        if (count != 1)
            return -XenErrno.EINVAL;
        bool wide = ctx.Is64Bit;
        var s = new byte[wide ? 24 : 16];
        if (!ctx.Guest.TryRead(uop, s))
            return -XenErrno.EFAULT;
        ushort dom = BinaryPrimitives.ReadUInt16LittleEndian(s);
        uint nr = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4));
        ulong list = wide ? BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(16)) : BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(12));
        int pfnSize = wide ? 8 : 4;
        if (!GuestHandle.Okay(ctx, list, (ulong)nr * (ulong)pfnSize))
            return -XenErrno.EFAULT;
        short status = DomainStatus(ctx, dom);
        if (status == GntSt.Okay)
        {
            if (nr > GrantTable.MaxGrantFrames)
                status = GntSt.GeneralError;
            else if ((nr > gt.FrameCount || (gt.Version > 1 && GrantTable.StatusFramesFor((int)nr) > gt.StatusFrameCount)) && !gt.Grow((int)nr))
                status = GntSt.GeneralError;
        }

        if (status == GntSt.Okay)
        {
            var pfn = new byte[pfnSize];
            for (int i = 0; i < nr; i++)
            {
                ulong gfn = gt.SharedFrame(i).Gfn;
                // compat/grant_table.c XLAT_gnttab_setup_table_HNDL_frame_list: a frame that
                // does not fit a compat_pfn_t stops the list with GNTST_address_too_big.
                if (!wide && gfn != (uint)gfn)
                {
                    status = GntSt.AddressTooBig;
                    break;
                }

                if (wide)
                    BinaryPrimitives.WriteUInt64LittleEndian(pfn, gfn);
                else
                    BinaryPrimitives.WriteUInt32LittleEndian(pfn, (uint)gfn);
                if (!ctx.Guest.TryWrite(list + ((ulong)i * (ulong)pfnSize), pfn))
                {
                    status = GntSt.BadVirtAddr;
                    break;
                }
            }
        }

        return WriteStatus(ctx, uop + 8, status);
    }

    /// <summary>
    /// gnttab_query_size: struct { domid_t dom; uint32_t nr_frames, max_nr_frames; int16_t
    /// status; } (16 bytes, both ABIs). count != 1 -EINVAL; the whole struct is written back.
    /// </summary>
    private static long QuerySize(IHypercallContext ctx, GrantTable gt, ulong uop, uint count)
    {
        if (count != 1)
            return -XenErrno.EINVAL;
        var s = new byte[16];
        if (!ctx.Guest.TryRead(uop, s))
            return -XenErrno.EFAULT;
        short status = DomainStatus(ctx, BinaryPrimitives.ReadUInt16LittleEndian(s));
        if (status == GntSt.Okay)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), (uint)gt.FrameCount);
            BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(8), GrantTable.MaxGrantFrames);
        }

        BinaryPrimitives.WriteInt16LittleEndian(s.AsSpan(12), status);
        return ctx.Guest.TryWrite(uop, s) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>
    /// gnttab_set_version: struct { uint32_t version; } in and out, always for the caller's own
    /// table. Not 1 or 2 -EINVAL; 2 when max_version is 1 -ENOSYS; then the switch
    /// (<see cref="GrantTable.SetVersion"/>). The version in force is written back whatever
    /// the result (a fault there -EFAULT).
    /// </summary>
    private static long SetVersion(IHypercallContext ctx, GrantTable gt, ulong uop)
    {
        if (!ctx.Guest.TryReadUInt32(uop, out uint version))
            return -XenErrno.EFAULT;
        long rc = version is 1 or 2
            ? version > GrantTable.MaxVersion ? -XenErrno.ENOSYS : gt.SetVersion((int)version, gt.EntriesInUse)
            : -XenErrno.EINVAL;
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)gt.Version);
        return ctx.Guest.TryWrite(uop, b) ? rc : -XenErrno.EFAULT;
    }

    /// <summary>
    /// gnttab_get_status_frames: struct { uint32_t nr_frames; domid_t dom; int16_t status;
    /// XEN_GUEST_HANDLE(uint64_t) frame_list; } (native 16 bytes, compat 12; the frames are
    /// 64-bit in both). count != 1 -EINVAL, copy -EFAULT, frame list outside guest space
    /// -EFAULT; then status: bad domain, permission denied, more frames than the table has
    /// (none under v1) general_error, a fault writing a frame bad_virt_addr.
    /// </summary>
    private static long GetStatusFrames(IHypercallContext ctx, GrantTable gt, ulong uop, uint count)
    {
        if (count != 1)
            return -XenErrno.EINVAL;
        bool wide = ctx.Is64Bit;
        var s = new byte[wide ? 16 : 12];
        if (!ctx.Guest.TryRead(uop, s))
            return -XenErrno.EFAULT;
        uint nr = BinaryPrimitives.ReadUInt32LittleEndian(s);
        ushort dom = BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(4));
        ulong list = wide ? BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(8)) : BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(8));
        if (!GuestHandle.Okay(ctx, list, (ulong)nr * 8))
            return -XenErrno.EFAULT;
        short status = DomainStatus(ctx, dom);
        if (status == GntSt.Okay && nr > gt.StatusFrameCount)
            status = GntSt.GeneralError;
        if (status == GntSt.Okay)
        {
            var pfn = new byte[8];
            for (int i = 0; i < nr; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(pfn, gt.StatusFrame(i).Gfn);
                if (!ctx.Guest.TryWrite(list + ((ulong)i * 8), pfn))
                {
                    status = GntSt.BadVirtAddr;
                    break;
                }
            }
        }

        return WriteStatus(ctx, uop + 6, status);
    }

    /// <summary>
    /// gnttab_get_version: struct { domid_t dom; uint16_t pad; uint32_t version; }. The copy
    /// -EFAULT; an unknown domain -ESRCH; dom0 -EPERM (XSM_TARGET); the version is written back.
    /// </summary>
    private static long GetVersion(IHypercallContext ctx, GrantTable gt, ulong uop)
    {
        var s = new byte[8];
        if (!ctx.Guest.TryRead(uop, s))
            return -XenErrno.EFAULT;
        int rc = ctx.Domain.CheckTarget(BinaryPrimitives.ReadUInt16LittleEndian(s));
        if (rc != 0)
            return rc;
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)gt.Version);
        return ctx.Guest.TryWrite(uop + 4, b) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>__copy_field_to_guest(uop, &amp;op, status): a fault is -EFAULT, else 0.</summary>
    private static long WriteStatus(IHypercallContext ctx, ulong address, short status)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteInt16LittleEndian(b, status);
        return ctx.Guest.TryWrite(address, b) ? 0 : -XenErrno.EFAULT;
    }
}
