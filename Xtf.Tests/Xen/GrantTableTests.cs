using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.GrantTables;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Builder;
using Xtf.Tests.Xen.Pv;

namespace Xtf.Tests.Xen;

/// <summary>
/// HYPERVISOR_grant_table_op (20) (xen/common/grant_table.c, public/grant_table.h) and
/// XENMEM_add_to_physmap(XENMAPSPACE_grant_table = 1). Layouts (native): setup_table { dom u16
/// @0, nr_frames u32 @4, status i16 @8, frame_list @16 }, query_size { dom @0, nr_frames @4,
/// max_nr_frames @8, status @12 }, get_status_frames { nr_frames u32 @0, dom u16 @4, status @6,
/// frame_list @8 }, get_version { dom @0, version u32 @4 }. GNTST: general_error -1, bad_domain
/// -2, permission_denied -8. max_grant_frames 64 (opt_max_grant_frames), INITIAL_NR_GRANT_FRAMES 1.
/// </summary>
public sealed class GrantTableTests
{
    private const ulong Arg = 0x10000, List = 0x11000, Gpfn = 0x80, StatusGpfn = 0x90;
    private const ulong InvalidGfn = ulong.MaxValue;

    private static long Op(HypercallTestDomain d, uint cmd, uint count = 1) =>
        d.Call(HypercallNumber.GrantTableOp, cmd, Arg, count);

    private static long SetupTable(HypercallTestDomain d, ushort dom, uint nr, uint count = 1)
    {
        var s = new byte[24];
        BitConverter.TryWriteBytes(s.AsSpan(0), dom);
        BitConverter.TryWriteBytes(s.AsSpan(4), nr);
        BitConverter.TryWriteBytes(s.AsSpan(8), (short)0x55);
        BitConverter.TryWriteBytes(s.AsSpan(16), List);
        d.Write(Arg, s);
        d.Write(List, new byte[16]);
        return Op(d, GnttabOp.SetupTable, count);
    }

    private static short Status(HypercallTestDomain d, int offset) => BitConverter.ToInt16(d.Read(Arg + (ulong)offset, 2));

    private static long AddToPhysmap(HypercallTestDomain d, ulong idx, ulong gpfn)
    {
        var s = new byte[24];
        BitConverter.TryWriteBytes(s.AsSpan(0), DomainId.Self);
        BitConverter.TryWriteBytes(s.AsSpan(4), 1u);
        BitConverter.TryWriteBytes(s.AsSpan(8), idx);
        BitConverter.TryWriteBytes(s.AsSpan(16), gpfn);
        d.Write(Arg, s);
        return d.Call(HypercallNumber.MemoryOp, 7, Arg);
    }

    private static long SetVersion(HypercallTestDomain d, uint version)
    {
        d.Write(Arg, BitConverter.GetBytes(version));
        return Op(d, GnttabOp.SetVersion);
    }

    /// <summary>
    /// setup_table: count != 1 -EINVAL; dom0 permission_denied (XSM_TARGET), an unknown domain
    /// bad_domain, more than 64 frames general_error; an HVM frame not yet in the physmap reads
    /// INVALID_GFN, and the gfn add_to_physmap placed it at afterwards.
    /// </summary>
    [Test]
    public void SetupTableStatusesAndHvmFrames()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(SetupTable(d, DomainId.Self, 1, count: 2), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(SetupTable(d, DomainId.Dom0, 1), Is.Zero);
        Assert.That(Status(d, 8), Is.EqualTo(GntSt.PermissionDenied));
        Assert.That(SetupTable(d, 5, 1), Is.Zero);
        Assert.That(Status(d, 8), Is.EqualTo(GntSt.BadDomain));
        Assert.That(SetupTable(d, DomainId.Self, 65), Is.Zero);
        Assert.That(Status(d, 8), Is.EqualTo(GntSt.GeneralError));
        Assert.That(SetupTable(d, DomainId.Self, 1), Is.Zero);
        Assert.That(Status(d, 8), Is.EqualTo(GntSt.Okay));
        Assert.That((ulong)d.ReadInt64(List), Is.EqualTo(InvalidGfn));

        Assert.That(AddToPhysmap(d, 0, Gpfn), Is.Zero);
        Assert.That(SetupTable(d, DomainId.Self, 1), Is.Zero);
        Assert.That((ulong)d.ReadInt64(List), Is.EqualTo(Gpfn));
    }

    /// <summary>
    /// add_to_physmap of grant frames (gnttab_map_frame): an index the table lacks grows it (up
    /// to 64 frames; 64 is -EINVAL); under v1 the status bit makes the index out of range
    /// (-EINVAL); query_size then reports the grown size and the maximum.
    /// </summary>
    [Test]
    public void AddToPhysmapGrowsTheTable()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(AddToPhysmap(d, 64, Gpfn), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(AddToPhysmap(d, GrantLayout.MapIdxStatus, Gpfn), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(AddToPhysmap(d, 2, Gpfn), Is.Zero);
        d.Write(Arg, [0xF0, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.That(Op(d, GnttabOp.QuerySize), Is.Zero);
        Assert.That(d.ReadInt32(Arg + 4), Is.EqualTo(3));
        Assert.That(d.ReadInt32(Arg + 8), Is.EqualTo(64));
        Assert.That(Status(d, 12), Is.EqualTo(GntSt.Okay));
    }

    /// <summary>
    /// set_version: 3 is -EINVAL and writes back the version in force (1); 2 populates one
    /// status frame (grant_to_status_frames(1) = 1); the reserved entry 0 survives in v2 form
    /// (flags, domid, frame at +8) while entry 9 is cleared; get_version reads 2; get_status_frames
    /// of 2 frames is general_error, of 1 gives the gfn add_to_physmap(idx | XENMAPIDX_grant_table_status)
    /// placed it at.
    /// </summary>
    [Test]
    public void SetVersionKeepsReservedEntriesAndPopulatesStatusFrames()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(AddToPhysmap(d, 0, Gpfn), Is.Zero);
        d.Write(Gpfn << 12, [1, 0, 0, 0, 0x34, 0x12, 0, 0]);
        d.Write((Gpfn << 12) + (9 * 8), [1, 0, 1, 0, 0x78, 0x56, 0, 0]);

        Assert.That(SetVersion(d, 3), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.ReadInt32(Arg), Is.EqualTo(1));
        Assert.That(SetVersion(d, 2), Is.Zero);
        Assert.That(d.ReadInt32(Arg), Is.EqualTo(2));
        Assert.That(d.Read(Gpfn << 12, 16), Is.EqualTo(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0, 0x34, 0x12, 0, 0, 0, 0, 0, 0 }));
        Assert.That(d.Read((Gpfn << 12) + (9 * 8), 8), Is.EqualTo(new byte[8]));

        d.Write(Arg, [0xF0, 0x7F, 0, 0, 0, 0, 0, 0]);
        Assert.That(Op(d, GnttabOp.GetVersion), Is.Zero);
        Assert.That(d.ReadInt32(Arg + 4), Is.EqualTo(2));

        Assert.That(AddToPhysmap(d, GrantLayout.MapIdxStatus, StatusGpfn), Is.Zero);
        var s = new byte[16];
        BitConverter.TryWriteBytes(s.AsSpan(0), 2u);
        BitConverter.TryWriteBytes(s.AsSpan(4), DomainId.Self);
        BitConverter.TryWriteBytes(s.AsSpan(8), List);
        d.Write(Arg, s);
        Assert.That(Op(d, GnttabOp.GetStatusFrames), Is.Zero);
        Assert.That(Status(d, 6), Is.EqualTo(GntSt.GeneralError));
        BitConverter.TryWriteBytes(s.AsSpan(0), 1u);
        d.Write(Arg, s);
        Assert.That(Op(d, GnttabOp.GetStatusFrames), Is.Zero);
        Assert.That(Status(d, 6), Is.EqualTo(GntSt.Okay));
        Assert.That((ulong)d.ReadInt64(List), Is.EqualTo(StatusGpfn));
    }

    /// <summary>
    /// do_grant_table_op: a negative count is -EINVAL, bits above GNTTABOP_CMD_MASK -EINVAL for
    /// anything but cache_flush, and cache_flush itself -ENOSYS on x86 (Xen commit 5642a6055c,
    /// 4.21: CONFIG_HAS_GRANT_CACHE_FLUSH is Arm's only).
    /// </summary>
    [Test]
    public void DispatchErrors()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(Op(d, GnttabOp.QuerySize, count: 0x8000_0000), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(Op(d, GnttabOp.QuerySize | 0x80), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(Op(d, GnttabOp.CacheFlush | 0x80), Is.EqualTo(-XenErrno.ENOSYS));
        Assert.That(Op(d, GnttabOp.CacheFlush), Is.EqualTo(-XenErrno.ENOSYS));
    }

    /// <summary>
    /// PV status frames are Xen heap pages shared with the guest. gnttab_unpopulate_status_frames
    /// refuses (-EBUSY) while the guest maps one (even read-only: the mapping holds a page
    /// reference), and the switch to v1 succeeds once the mapping is gone (XSA-255's fix).
    /// </summary>
    [Test]
    public void PvStatusFrameMappedBlocksTheSwitchToV1()
    {
        var d = new PvMmuTestDomain(true);
        Assert.That(d.Boot(), Is.Zero);
        var gt = new GrantTable(d.Memory, new PvGrantFrames(new XenFrames(d.Memory, 700), d.Mm.Frames));
        Assert.That(gt.SetVersion(2, entriesInUse: false), Is.Zero);
        ulong status = gt.StatusFrame(0).Gfn;
        Assert.That(status, Is.EqualTo(701), "frame 700 is the shared frame, 701 its status frame");
        ulong entry = (PvMmuTestDomain.L1Frame << 12) + (100 * 8);
        Assert.That(d.MmuUpdate1(entry, (status << 12) | PvMmuTestDomain.P), Is.Zero);
        Assert.That(gt.SetVersion(1, entriesInUse: false), Is.EqualTo(-XenErrno.EBUSY));
        Assert.That(gt.Version, Is.EqualTo(2));
        Assert.That(d.MmuUpdate1(entry, 0), Is.Zero);
        Assert.That(gt.SetVersion(1, entriesInUse: false), Is.Zero);
        Assert.That(gt.StatusFrameCount, Is.Zero);
        Assert.That(d.MmuUpdate1(entry, (status << 12) | PvMmuTestDomain.P), Is.EqualTo(-XenErrno.EBUSY), "the freed frame is Xen's again");
    }
}
