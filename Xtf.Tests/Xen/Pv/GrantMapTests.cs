using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.GrantTables;
using Xtf.Core.Xen.Pv.Memory;
using static Xtf.Tests.Xen.Pv.PvMmuTestDomain;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// GNTTABOP_map_grant_ref / unmap_grant_ref / unmap_and_replace for a pv64 caller
/// (xen/common/grant_table.c map_grant_ref, unmap_common; xen/arch/x86/pv/grant_table.c). The
/// domain (id 1) grants itself frames 0x70 (ref 8, writable) and 0x71 (ref 9, GTF_readonly);
/// both are mapped read-write at their identity addresses, so each holds one writable type
/// reference before any grant. A grant PTE is mfn | P A D _PAGE_GNTTAB(bit 62) NX, RW unless
/// readonly, then adjust_guest_l1e (U and _PAGE_GUEST_KERNEL for a kernel mapping).
/// GNTST: general_error -1, bad_domain -2, bad_gntref -3, bad_handle -4.
/// </summary>
[TestFixture]
public sealed class GrantMapTests
{
    private const ulong HostA = 0x64000, HostB = 0x66000;
    private const ushort Self = 1;

    private static PvMmuTestDomain Granted()
    {
        var d = new PvMmuTestDomain(true);
        Assert.That(d.Boot(), Is.Zero);
        var gt = d.Domain.GrantTable;
        Assert.That(gt.FrameCount, Is.EqualTo(1));
        // grant_entry_v1 { u16 flags; u16 domid; u32 frame }.
        gt.SharedFrame(0).Write(d.Memory, 8 * 8, [(byte)Gtf.PermitAccess, 0, (byte)Self, 0, 0x70, 0, 0, 0]);
        gt.SharedFrame(0).Write(d.Memory, 9 * 8, [(byte)(Gtf.PermitAccess | Gtf.Readonly), 0, (byte)Self, 0, 0x71, 0, 0, 0]);
        return d;
    }

    private static (short Status, uint Handle, ulong DevBusAddr) Map(PvMmuTestDomain d, ulong host, uint flags, uint reference, ushort dom = Self)
    {
        var op = new byte[32];
        BitConverter.TryWriteBytes(op.AsSpan(0), host);
        BitConverter.TryWriteBytes(op.AsSpan(8), flags);
        BitConverter.TryWriteBytes(op.AsSpan(12), reference);
        BitConverter.TryWriteBytes(op.AsSpan(16), dom);
        d.Write(Reqs, op);
        Assert.That(GrantMapOp.Map(d, d.Mm, Reqs, 1), Is.Zero);
        var r = Read(d, Reqs, 32);
        return (BitConverter.ToInt16(r, 18), BitConverter.ToUInt32(r, 20), BitConverter.ToUInt64(r, 24));
    }

    private static short Unmap(PvMmuTestDomain d, ulong host, ulong second, uint handle, bool replace = false)
    {
        var op = new byte[24];
        BitConverter.TryWriteBytes(op.AsSpan(0), host);
        BitConverter.TryWriteBytes(op.AsSpan(8), second);
        BitConverter.TryWriteBytes(op.AsSpan(16), handle);
        d.Write(Reqs, op);
        Assert.That(GrantMapOp.Unmap(d, d.Mm, Reqs, 1, replace), Is.Zero);
        return BitConverter.ToInt16(Read(d, Reqs + 20, 2));
    }

    private static byte[] Read(PvMmuTestDomain d, ulong address, int length)
    {
        var b = new byte[length];
        d.Memory.Read(address, b);
        return b;
    }

    private static ushort EntryFlags(PvMmuTestDomain d, uint reference)
    {
        var b = new byte[2];
        d.Domain.GrantTable.SharedFrame(0).Read(d.Memory, (int)reference * 8, b);
        return BitConverter.ToUInt16(b);
    }

    private const ulong GrantRw = P | Rw | Pte.Accessed | Pte.Dirty | Pte.GntTab | Pte.Nx | U | Pte.GuestKernel;

    [Test]
    public void HostMapWritesAGrantPteTakesAWritableReferenceAndUnmapGivesItBack()
    {
        var d = Granted();
        Assert.That(d.Mm.Frames.TypeCount(0x70), Is.EqualTo(1));
        var m = Map(d, HostA, GntMap.HostMap, 8);
        Assert.That(m, Is.EqualTo(((short)0, 0u, 0x70000ul)));
        Assert.That(d.ReadEntry(L1Frame, 0x64), Is.EqualTo((0x70ul << 12) | GrantRw));
        Assert.That(d.Mm.Frames.TypeCount(0x70), Is.EqualTo(2));
        Assert.That(d.Mm.Frames.TypeCount(0x64), Is.Zero, "the replaced entry's reference was dropped");
        Assert.That(EntryFlags(d, 8), Is.EqualTo(Gtf.PermitAccess | Gtf.Reading | Gtf.Writing));
        Assert.That(d.Domain.GrantTable.SetVersion(2, d.Domain.GrantTable.EntriesInUse), Is.EqualTo(-XenErrno.EBUSY));

        Assert.That(Unmap(d, HostA, 0, 0), Is.EqualTo(GntSt.Okay));
        Assert.That(d.ReadEntry(L1Frame, 0x64), Is.Zero);
        Assert.That(d.Mm.Frames.TypeCount(0x70), Is.EqualTo(1));
        Assert.That(EntryFlags(d, 8), Is.EqualTo(Gtf.PermitAccess));
        Assert.That(Unmap(d, HostA, 0, 0), Is.EqualTo(GntSt.BadHandle));
    }

    /// <summary>XSA-224's sequence: host and device map, then each unmapped alone; one writable reference each, no more dropped than taken.</summary>
    [Test]
    public void HostAndDeviceMappingsAreUndoneSeparately()
    {
        var d = Granted();
        var m = Map(d, HostA, GntMap.HostMap | GntMap.DeviceMap, 8);
        Assert.That(m.Status, Is.EqualTo(GntSt.Okay));
        Assert.That(d.Mm.Frames.TypeCount(0x70), Is.EqualTo(3));
        Assert.That(Unmap(d, 0, 0x71000, m.Handle), Is.EqualTo(GntSt.BadDevAddr));
        Assert.That(Unmap(d, HostA, 0, m.Handle), Is.EqualTo(GntSt.Okay));
        Assert.That(d.Mm.Frames.TypeCount(0x70), Is.EqualTo(2));
        Assert.That(Unmap(d, 0, 0x70000, m.Handle), Is.EqualTo(GntSt.Okay));
        Assert.That(d.Mm.Frames.TypeCount(0x70), Is.EqualTo(1));
        Assert.That(Unmap(d, 0, 0x70000, m.Handle), Is.EqualTo(GntSt.BadHandle));
    }

    /// <summary>
    /// Status of refused maps: no host or device flag bad_gntref; DOMID_SELF is no id
    /// (bad_domain); dom0's table grants us nothing (general_error, XSA-316's path); a ref past
    /// the 512 v1 entries bad_gntref; a writable map of a GTF_readonly or an invalid entry
    /// general_error; contains_pte with a misaligned PTE address general_error, nothing written
    /// (XSA-227).
    /// </summary>
    [Test]
    public void RefusedMaps()
    {
        var d = Granted();
        ulong before = d.ReadEntry(L1Frame, 0x65);
        Assert.That(Map(d, HostA, 0, 8).Status, Is.EqualTo(GntSt.BadGntref));
        Assert.That(Map(d, HostA, GntMap.HostMap, 8, dom: 0x7FF0).Status, Is.EqualTo(GntSt.BadDomain));
        Assert.That(Map(d, HostA, GntMap.HostMap, 8, dom: 0).Status, Is.EqualTo(GntSt.GeneralError));
        Assert.That(Map(d, HostA, GntMap.HostMap, 512).Status, Is.EqualTo(GntSt.BadGntref));
        Assert.That(Map(d, HostA, GntMap.HostMap, 9).Status, Is.EqualTo(GntSt.GeneralError));
        Assert.That(Map(d, HostA, GntMap.HostMap, 10).Status, Is.EqualTo(GntSt.GeneralError));
        ulong misaligned = (L1Frame << 12) + (0x65 * 8) - 2;
        Assert.That(Map(d, misaligned, GntMap.HostMap | GntMap.ContainsPte, 8).Status, Is.EqualTo(GntSt.GeneralError));
        Assert.That(d.ReadEntry(L1Frame, 0x65), Is.EqualTo(before));
        Assert.That(d.ReadEntry(L1Frame, 0x64), Is.EqualTo(before - 0x1000), "the slot below is untouched too");
        Assert.That(EntryFlags(d, 8), Is.EqualTo(Gtf.PermitAccess), "a refused map leaves no status bits");
        Assert.That(d.Mm.Frames.TypeCount(0x70), Is.EqualTo(1));
    }

    /// <summary>
    /// unmap_and_replace moves the PTE at new_addr to host_addr and empties new_addr; unmapping
    /// the moved-from grant at an address that now maps the frame read-only is general_error
    /// (the PTE's RW does not match the grant), so its writable reference stays (XSA-234).
    /// </summary>
    [Test]
    public void UnmapAndReplaceStealsThePteAtNewAddr()
    {
        var d = Granted();
        var f1 = Map(d, HostA, GntMap.HostMap, 8);
        var f2 = Map(d, HostB, GntMap.HostMap | GntMap.Readonly, 9);
        Assert.That((f1.Status, f2.Status), Is.EqualTo(((short)0, (short)0)));
        Assert.That(Unmap(d, HostB, HostA, f2.Handle, replace: true), Is.EqualTo(GntSt.Okay));
        Assert.That(d.ReadEntry(L1Frame, 0x64), Is.Zero);
        Assert.That(d.ReadEntry(L1Frame, 0x66), Is.EqualTo((0x70ul << 12) | GrantRw));
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, HostA, (0x70ul << 12) | P | U, 0), Is.Zero);
        Assert.That(Unmap(d, HostA, 0, f1.Handle), Is.EqualTo(GntSt.GeneralError));
        Assert.That(d.Mm.Pin(0x70, PageType.L1), Is.EqualTo(-XenErrno.EINVAL));
    }
}
