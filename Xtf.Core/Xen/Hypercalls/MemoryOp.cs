using System.Buffers.Binary;
using Xtf.Core.Xen.Events;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_memory_op(cmd, arg) (public/memory.h, xen/common/memory.c do_memory_op): the low
/// 6 bits of cmd select the operation (MEMOP_CMD_MASK), the rest is a continuation's start
/// extent. Implemented: the reservation operations (<see cref="Reservation"/>), exchange,
/// maximum_ram_page, and add_to_physmap with XENMAPSPACE_shared_info; other operations return
/// -ENOSYS.
/// </summary>
internal static partial class MemoryOp
{
    /// <summary>XENMEM_* (public/memory.h).</summary>
    public const int IncreaseReservation = 0, DecreaseReservation = 1, MaximumRamPage = 2, PopulatePhysmap = 6, AddToPhysmap = 7, Exchange = 11;
    private const int CmdMask = 0x3F, ExtentShift = 6;

    /// <summary>XENMAPSPACE_* (public/memory.h).</summary>
    public const uint SpaceSharedInfo = 0, SpaceGrantTable = 1, SpaceGmfn = 2, SpaceGmfnRange = 3, SpaceGmfnForeign = 4, SpaceDevMmio = 5;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        int op = (int)(a.A1 & CmdMask);
        ulong startExtent = a.A1 >> ExtentShift;
        return op switch
        {
            IncreaseReservation or DecreaseReservation or PopulatePhysmap => Reservation(ctx, op, startExtent, a.A2),
            Exchange => startExtent != 0 ? -XenErrno.EINVAL : ExchangeCall(ctx, a.A2),
            // rc = max_page: one above the highest machine frame (the machine's RAM here).
            MaximumRamPage => startExtent != 0 ? -XenErrno.EINVAL : (long)ctx.Guest.Cpu.Memory.FrameCount,
            AddToPhysmap => AddToPhysmapCall(ctx, startExtent, a.A2),
            _ => -XenErrno.ENOSYS,
        };
    }

    /// <summary>
    /// XENMEM_add_to_physmap, struct xen_add_to_physmap { domid_t domid; uint16_t size; unsigned
    /// int space; xen_ulong_t idx; xen_pfn_t gpfn; } (native 24 bytes: idx at 8, gpfn at 16;
    /// compat 16 bytes: idx at 8, gpfn at 12). Order as in do_memory_op: a start extent beyond
    /// 16 bits is -EDOM, the copy -EFAULT, the foreign space -ENOSYS, the domain -ESRCH/-EPERM;
    /// then xenmem_add_to_physmap: a PV domain (not translated) -EACCES; shared_info needs idx 0
    /// (else no frame: -EINVAL). The frame at gpfn becomes shared_info, and its format is latched
    /// from the caller's mode (hvm_latch_shinfo_size). Here gpfn must be a RAM frame (-EINVAL
    /// otherwise); grant_table frames as <see cref="AddGrantFrameToPhysmap"/>; the other spaces
    /// are not implemented (-EINVAL, as a space with no frame).
    /// </summary>
    private static long AddToPhysmapCall(IHypercallContext ctx, ulong startExtent, ulong arg)
    {
        if (startExtent != (ushort)startExtent)
            return -XenErrno.EDOM;
        bool wide = ctx.Is64Bit;
        var s = new byte[wide ? 24 : 16];
        if (!ctx.Guest.TryRead(arg, s))
            return -XenErrno.EFAULT;
        uint space = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4));
        if (space == SpaceGmfnForeign)
            return -XenErrno.ENOSYS;
        int rc = ctx.Domain.CheckTarget(BinaryPrimitives.ReadUInt16LittleEndian(s));
        if (rc != 0)
            return rc;
        if (!ctx.IsHvm)
            return -XenErrno.EACCES;
        ulong idx = wide ? BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(8)) : BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(8));
        ulong gpfn = wide ? BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(16)) : BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(12));
        if (space == SpaceGrantTable)
            return AddGrantFrameToPhysmap(ctx, idx, gpfn);
        if (space != SpaceSharedInfo || idx != 0)
            return -XenErrno.EINVAL;
        var cpu = ctx.Guest.Cpu;
        if (gpfn >= cpu.Memory.FrameCount)
            return -XenErrno.EINVAL;
        var channels = ctx.Domain.EventChannels;
        if (channels.SharedInfo is { } current && current.Page == gpfn << 12 && current.Compat == !wide)
            return 0;
        // The frame's old contents are gone: it is now the shared_info page (moved from where it
        // was mapped before, or Xen's fresh, zeroed page).
        for (ulong off = 0; off < 4096; off += 8)
            cpu.WritePhysical((gpfn << 12) + off, 8, channels.SharedInfo is { } old ? cpu.ReadPhysical(old.Page + off, 8) : 0);
        channels.Attach(new SharedInfoEvents(cpu, gpfn << 12, compat: !wide));
        return 0;
    }

    /// <summary>
    /// xenmem_add_to_physmap_one, XENMAPSPACE_grant_table (xen/arch/x86/mm.c, then
    /// gnttab_map_frame in xen/common/grant_table.c): idx names shared frame idx, or with
    /// XENMAPIDX_grant_table_status under v2 status frame idx &amp; ~that bit; a shared index the
    /// table does not have yet grows it (up to max_grant_frames), a status index grows it to the
    /// shared frames that index needs; an index still out of range is -EINVAL. The frame then
    /// appears at gpfn (here: a RAM frame, else -EINVAL).
    /// </summary>
    private static long AddGrantFrameToPhysmap(IHypercallContext ctx, ulong idx, ulong gpfn)
    {
        if (gpfn >= ctx.Guest.Cpu.Memory.FrameCount)
            return -XenErrno.EINVAL;
        var gt = ctx.Domain.GrantTable;
        bool isStatus = gt.Version == 2 && (idx & GrantTables.GrantLayout.MapIdxStatus) != 0;
        if (isStatus)
            idx &= ~GrantTables.GrantLayout.MapIdxStatus;
        // The index is an unsigned int in gnttab_map_frame's callees.
        idx = (uint)idx;
        int have = isStatus ? gt.StatusFrameCount : gt.FrameCount;
        if (idx >= (ulong)have)
        {
            long grant = isStatus ? GrantTables.GrantTable.GrantFramesFor((int)Math.Min(idx + 1, int.MaxValue / 2048)) : (long)idx + 1;
            if (grant <= GrantTables.GrantTable.MaxGrantFrames)
                gt.Grow((int)grant);
            have = isStatus ? gt.StatusFrameCount : gt.FrameCount;
            if (idx >= (ulong)have)
                return -XenErrno.EINVAL;
        }

        var frame = isStatus ? gt.StatusFrame((int)idx) : gt.SharedFrame((int)idx);
        gt.Place(frame, gpfn);
        return 0;
    }
}
