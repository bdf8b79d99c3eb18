using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.Pv.Memory;
using static Xtf.Tests.Xen.Pv.PvMmuTestDomain;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// update_va_mapping, update_va_mapping_otherdomain (__do_update_va_mapping, map_guest_l1e) and
/// the flush and misc commands of mmuext_op (do_mmuext_op).
/// </summary>
[TestFixture]
public sealed class UpdateVaMappingTests
{
    private static PvMmuTestDomain Booted(bool is64Bit = true)
    {
        var d = new PvMmuTestDomain(is64Bit);
        Assert.That(d.Boot(), Is.Zero);
        return d;
    }

    [Test]
    public void MappedVa_ChangesItsL1Entry()
    {
        var d = Booted();
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x64000, (0x70ul << 12) | P | U, Uvmf.Invlpg | Uvmf.Local), Is.Zero);
        Assert.That(d.ReadEntry(L1Frame, 0x64), Is.EqualTo((0x70ul << 12) | P | U | Pte.Global));
    }

    [Test]
    public void UnmappedVa_IsEinval()
    {
        // map_guest_l1e finds no L2 entry for 1 GiB (L3 slot 1 not present) -> -EINVAL.
        var d = Booted();
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x4000_0000, (0x70ul << 12) | P, 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x20_0000, (0x70ul << 12) | P, 0), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void VaInXensRangeOrNonCanonical_IsEinval()
    {
        var d = Booted();
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0xFFFF_8000_0000_0000, 0, 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x0000_8000_0000_0000, 0, 0), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void WritableMappingOfAPageTable_IsEbusy_AsForMmuUpdate()
    {
        var d = Booted();
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x64000, (Root << 12) | P | Rw, 0), Is.EqualTo(-XenErrno.EBUSY));
    }

    [Test]
    public void VcpuMaskPointer_Unreadable_IsEfaultAfterTheUpdate()
    {
        // The update is done; vcpumask_to_pcpumask's -EFAULT is the return value.
        var d = Booted();
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x64000, (0x70ul << 12) | P, BadPointer | Uvmf.TlbFlush), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(Pte.Mfn(d.ReadEntry(L1Frame, 0x64)), Is.EqualTo(0x70ul));
        d.Write(Reqs, BitConverter.GetBytes(1ul));
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x64000, (0x71ul << 12) | P, Reqs | Uvmf.TlbFlush), Is.Zero);
    }

    [Test]
    public void Compat_ValueArrivesSplitInTwoRegisters()
    {
        // compat_update_va_mapping(va, lo, hi, flags): NX in hi.
        var d = Booted(is64Bit: false);
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0x64000, (0x70u << 12) | 1u, 0x8000_0000u, Uvmf.Invlpg), Is.Zero);
        Assert.That(d.ReadEntry(L1Frame, 0x64), Is.EqualTo((0x70ul << 12) | P | Pte.Nx));
    }

    [Test]
    public void Compat_VaInXensL2Slots_IsEinval()
    {
        // 0xF5800000: L2 slot 428 of Xen's L2 maps Xen's frame, not an L1 of the guest.
        var d = Booted(is64Bit: false);
        Assert.That(d.Call(HypercallNumber.UpdateVaMapping, 0xF580_0000, 0, 0, 0), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void OtherDomain_SelfWorks_OwnIdIsEsrch_Dom0IsEperm()
    {
        var d = Booted();
        Assert.That(d.Call(HypercallNumber.UpdateVaMappingOtherdomain, 0x64000, 0, 0, ReservedDomainId.Self), Is.Zero);
        Assert.That(d.Call(HypercallNumber.UpdateVaMappingOtherdomain, 0x64000, 0, 0, DomainId.FirstGuest), Is.EqualTo(-XenErrno.ESRCH));
        Assert.That(d.Call(HypercallNumber.UpdateVaMappingOtherdomain, 0x64000, 0, 0, DomainId.Dom0), Is.EqualTo(-XenErrno.EPERM));
    }

    [Test]
    public void Mmuext_UnknownCommandIsEnosys_FlushCacheIsEacces_MarkSuperIsEopnotsupp()
    {
        var d = Booted();
        Assert.That(d.Ext(14), Is.EqualTo(-XenErrno.ENOSYS));
        Assert.That(d.Ext(99), Is.EqualTo(-XenErrno.ENOSYS));
        Assert.That(d.Ext(MmuextCommand.FlushCache), Is.EqualTo(-MmuErrno.EACCES));
        Assert.That(d.Ext(MmuextCommand.FlushCacheGlobal), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Ext(MmuextCommand.MarkSuper), Is.EqualTo(-MmuErrno.EOPNOTSUPP));
        Assert.That(d.Ext(MmuextCommand.TlbFlushLocal), Is.Zero);
        Assert.That(d.Ext(MmuextCommand.TlbFlushAll), Is.Zero);
        Assert.That(d.Ext(MmuextCommand.InvlpgLocal, 0x64000), Is.Zero);
    }

    [Test]
    public void Mmuext_MultiWithUnreadableMask_IsEinval()
    {
        var d = Booted();
        Assert.That(d.Ext(MmuextCommand.TlbFlushMulti, 0, BadPointer), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Ext(MmuextCommand.InvlpgMulti, 0x64000, BadPointer), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void Mmuext_SetLdt_ChecksCountAndAlignment()
    {
        var d = Booted();
        Assert.That(d.Ext(MmuextCommand.SetLdt, 0x10000, 8193), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Ext(MmuextCommand.SetLdt, 0x10008, 1), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Ext(MmuextCommand.SetLdt, 0x10000, 16), Is.Zero);
        Assert.That(d.Ldt, Is.EqualTo((0x10000ul, 16u)));
    }

    [Test]
    public void Mmuext_ClearPage_RefusesPageTables()
    {
        var d = Booted();
        d.Write(70ul << 12, [1, 2, 3]);
        Assert.That(d.Ext(MmuextCommand.ClearPage, 70), Is.Zero);
        Assert.That(d.ReadEntry(70, 0), Is.Zero);
        Assert.That(d.Ext(MmuextCommand.ClearPage, L1Frame), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Ext(MmuextCommand.CopyPage, L1Frame, 70), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void Mmuext_ForeignDomain_IsEperm_OwnIdIsEsrch_BatchDoneCounts()
    {
        var d = Booted();
        d.WriteExtOps((MmuextCommand.TlbFlushLocal, 0, 0));
        Assert.That(d.Call(HypercallNumber.MmuextOp, Reqs, 1, 0, DomainId.Dom0), Is.EqualTo(-XenErrno.EPERM));
        Assert.That(d.Call(HypercallNumber.MmuextOp, Reqs, 1, 0, DomainId.FirstGuest), Is.EqualTo(-XenErrno.ESRCH));

        // The second op pins the L2 as an L1 (wrong type): the batch stops there with done = 1.
        d.WriteExtOps((MmuextCommand.TlbFlushLocal, 0, 0), (MmuextCommand.PinL1Table, L2Frame, 0), (MmuextCommand.TlbFlushLocal, 0, 0));
        Assert.That(d.Call(HypercallNumber.MmuextOp, Reqs, 3, DonePtr, ReservedDomainId.Self), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.ReadUInt32(DonePtr), Is.EqualTo(1u));
    }
}
