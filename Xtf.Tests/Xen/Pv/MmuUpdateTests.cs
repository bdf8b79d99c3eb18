using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.Pv.Memory;
using static Xtf.Tests.Xen.Pv.PvMmuTestDomain;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// HYPERVISOR_mmu_update against xen/arch/x86/mm.c do_mmu_update / mod_lN_entry /
/// get_page_from_lNe; expected values are Xen's return codes for each rule.
/// </summary>
[TestFixture]
public sealed class MmuUpdateTests
{
    private static PvMmuTestDomain Booted(bool is64Bit = true)
    {
        var d = new PvMmuTestDomain(is64Bit);
        Assert.That(d.Boot(), Is.Zero);
        return d;
    }

    [Test]
    public void L1_WritableMappingOfAnL1Page_IsEbusy_ReadOnlyIsAllowed()
    {
        // get_page_from_l1e: get_page_type(PGT_writable_page) on a frame typed L1 fails -> -EBUSY.
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), (L1Frame << 12) | P | Rw), Is.EqualTo(-XenErrno.EBUSY));
        Assert.That(d.ReadEntry(L1Frame, 100), Is.EqualTo((100ul << 12) | P | Rw | U | Pte.GuestKernel), "entry unchanged");
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), (L1Frame << 12) | P), Is.Zero);
        Assert.That(d.Mm.Frames.TypeCount(L1Frame), Is.EqualTo(1), "a read-only mapping takes no type reference");
        Assert.That(d.Mm.Frames.TypeCount(100), Is.Zero, "the old writable mapping's reference was dropped");
    }

    [Test]
    public void L1_WritableMappingOfEachPageTableLevel_IsEbusy()
    {
        var d = Booted();
        foreach (ulong table in new[] { Root, L3Frame, L2Frame, L1Frame })
            Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), (table << 12) | P | Rw), Is.EqualTo(-XenErrno.EBUSY), $"frame {table}");
    }

    [Test]
    public void L1_RemapWritableAfterUnpin_IsAllowed()
    {
        var d = Booted();
        const ulong table = 30;
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, (int)table), (table << 12) | P), Is.Zero);
        Assert.That(d.Ext(MmuextCommand.PinL1Table, table), Is.Zero);
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, (int)table), (table << 12) | P | Rw), Is.EqualTo(-XenErrno.EBUSY));
        Assert.That(d.Ext(MmuextCommand.UnpinTable, table), Is.Zero);
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, (int)table), (table << 12) | P | Rw), Is.Zero);
        Assert.That((d.Mm.Frames.Type(table), d.Mm.Frames.TypeCount(table)), Is.EqualTo((PageType.Writable, 1)));

        // And now it is mapped writable, it cannot be pinned as a page table.
        Assert.That(d.Ext(MmuextCommand.PinL1Table, table), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void L1_ReplacingAnEntry_DropsTheOldTargetsReference()
    {
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 20), (21ul << 12) | P | Rw), Is.Zero);
        Assert.That((d.Mm.Frames.Type(20), d.Mm.Frames.TypeCount(20)), Is.EqualTo((PageType.None, 0)));
        Assert.That(d.Mm.Frames.TypeCount(21), Is.EqualTo(2), "its own mapping and slot 20's");
    }

    [Test]
    public void L1_HypervisorFrame_IsEbusy_SharedInfoIsAllowed()
    {
        // A Xen frame has no owner reference to take (could_not_pin: -EBUSY); shared_info is
        // shared with the guest writable (share_xen_page_with_guest).
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), (XenM2pFrame << 12) | P), Is.EqualTo(-XenErrno.EBUSY));
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), (SharedInfo << 12) | P | Rw), Is.Zero);
        Assert.That(d.Mm.Frames.TypeCount(SharedInfo), Is.EqualTo(2));
    }

    [Test]
    public void L1_FrameOutsideMachineMemory_IsMmio_Eperm_AndTheInvalidMfnIsEinval()
    {
        // !mfn_valid: iomem_access_permitted is false for an unprivileged domain -> -EPERM,
        // except for mfn PADDR_MASK >> PAGE_SHIFT (all 40 address bits set) -> -EINVAL.
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), (0x10000ul << 12) | P), Is.EqualTo(-XenErrno.EPERM));
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), Pte.AddressMask | P), Is.EqualTo(-XenErrno.EINVAL));
    }

    [TestCase(Pte.Pwt, TestName = "L1_DisallowMask_Pwt_IsEinval")]
    [TestCase(Pte.Pcd, TestName = "L1_DisallowMask_Pcd_IsEinval")]
    [TestCase(Pte.Pse, TestName = "L1_DisallowMask_Pat_IsEinval")]
    [TestCase(Pte.GntTab, TestName = "L1_DisallowMask_GntTab_IsEinval")]
    public void L1_DisallowMask(ulong bit)
    {
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), (100ul << 12) | P | bit), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void L1_GlobalAvailAndNx_AreAllowed()
    {
        // L1_DISALLOW_MASK clears _PAGE_GLOBAL from the base mask; AVAIL, AVAIL_HIGH and NX are guest bits.
        var d = Booted();
        ulong e = (100ul << 12) | P | U | Pte.Global | Pte.Avail | (1ul << 55) | Pte.Nx;
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100), e), Is.Zero);
        Assert.That(d.ReadEntry(L1Frame, 100), Is.EqualTo(e));
    }

    [Test]
    public void L2_SuperpageAndReservedBits_AreEinval()
    {
        // L2_DISALLOW_MASK = base_disallow_mask, which includes _PAGE_PSE: no superpages for PV.
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 1), (0x200ul << 12) | P | Rw | Pte.Pse), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 1), (L1Frame << 12) | P | Pte.Pcd), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void L2_EntryToAFrameThatIsNotAnL1_OrNotTheGuests_IsEinval()
    {
        // get_page_and_type_from_mfn(PGT_l1_page_table): a frame mapped writable has the wrong
        // type; a Xen frame fails get_page_from_mfn. Both -EINVAL.
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 1), (20ul << 12) | P | Rw), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 1), (XenM2pFrame << 12) | P | Rw), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 1), (SharedInfo << 12) | P | Rw), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void L2_NewL1_IsValidated_AndReleasedWhenTheEntryIsCleared()
    {
        var d = Booted();
        const ulong table = 30;
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, (int)table), (table << 12) | P), Is.Zero);
        d.WriteEntry(table, 0, (50ul << 12) | P | Rw);
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 1), (table << 12) | P | Rw), Is.Zero);
        Assert.That((d.Mm.Frames.Type(table), d.Mm.Frames.TypeCount(50)), Is.EqualTo((PageType.L1, 2)));
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 1), 0), Is.Zero);
        Assert.That((d.Mm.Frames.Type(table), d.Mm.Frames.TypeCount(50)), Is.EqualTo((PageType.None, 1)));
    }

    [Test]
    public void L2_ReadOnlySelfMap_IsALinearPagetable_WritableIsRefused()
    {
        // get_l2_linear_pagetable: an L2 entry naming its own table must be read-only.
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 511), (L2Frame << 12) | P | Rw), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 511), (L2Frame << 12) | P), Is.Zero);
        Assert.That(d.Mm.Frames.TypeCount(L2Frame), Is.EqualTo(1));
    }

    [Test]
    public void L4_XenSlots_AreEinval_GuestSlotsAreNot()
    {
        // mod_l4_entry: !is_guest_l4_slot (256..271 for pv64) -> -EINVAL.
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(Root, 256), 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(Root, 271), 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.ReadEntry(Root, 256), Is.EqualTo((XenM2pFrame << 12) | P | U));
        Assert.That(d.MmuUpdate1(EntryPtr(Root, 255), (L3Frame << 12) | P), Is.Zero);
        Assert.That(d.MmuUpdate1(EntryPtr(Root, 272), (L3Frame << 12) | P), Is.Zero);
        Assert.That(d.Mm.Frames.TypeCount(L3Frame), Is.EqualTo(3));
    }

    [Test]
    public void Pv32_L3Slot3AndAbove_AreEinval_XenL2Slots_AreEperm()
    {
        // mod_l3_entry: slot >= 3 of a 32-bit domain's L3 -> -EINVAL. mod_l2_entry: an L2
        // update in Xen's area of a pae_xen_l2 table -> -EPERM.
        var d = Booted(is64Bit: false);
        Assert.That(d.MmuUpdate1(EntryPtr(Root, 3), 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(Root, 4), 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 428), 0), Is.EqualTo(-XenErrno.EPERM));
        Assert.That(d.MmuUpdate1(EntryPtr(L2Frame, 427), (L1Frame << 12) | P), Is.Zero);
    }

    [Test]
    public void PlainDataFrame_IsWrittenAsMemory()
    {
        // page_lock fails on a frame without a validated type: get_page_type(PGT_writable_page)
        // and a plain write (Xen's writable_mmu_updates).
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(60, 3), 0x1234_5678_9ABC_DEF0), Is.Zero);
        Assert.That(d.ReadEntry(60, 3), Is.EqualTo(0x1234_5678_9ABC_DEF0ul));
        Assert.That(d.Mm.Frames.TypeCount(60), Is.EqualTo(1), "unchanged: its own mapping");
    }

    [Test]
    public void PtrNotTheGuests_IsEinval_UnknownCommandIsEnosys()
    {
        var d = Booted();
        Assert.That(d.MmuUpdate1(EntryPtr(XenM2pFrame, 0), 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(1u << 20, 0), 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100) | 5, 0), Is.EqualTo(-XenErrno.ENOSYS));
    }

    [Test]
    public void PreserveAd_KeepsTheOldAccessedAndDirtyBits()
    {
        var d = Booted();
        d.WriteEntry(L1Frame, 100, d.ReadEntry(L1Frame, 100) | Pte.Accessed | Pte.Dirty);
        ulong e = (100ul << 12) | P | Rw | U;
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, 100) | MmuCommand.PtUpdatePreserveAd, e), Is.Zero);
        Assert.That(d.ReadEntry(L1Frame, 100), Is.EqualTo(e | Pte.Accessed | Pte.Dirty | Pte.Global));
    }

    [Test]
    public void MachphysUpdate_SetsTheM2p_ForTheGuestsFramesOnly()
    {
        var d = Booted();
        Assert.That(d.MmuUpdate1((77ul << 12) | MmuCommand.MachphysUpdate, 0x99), Is.Zero);
        Assert.That(d.M2p[77], Is.EqualTo(0x99ul));
        Assert.That(d.MmuUpdate1((XenM2pFrame << 12) | MmuCommand.MachphysUpdate, 1), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void CountZero_ReturnsZero_AndWritesDoneZero()
    {
        var d = Booted();
        d.Write(DonePtr, BitConverter.GetBytes(0xFFFFFFFFu));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 0, DonePtr, ReservedDomainId.Self), Is.Zero);
        Assert.That(d.ReadUInt32(DonePtr), Is.Zero);
    }

    [Test]
    public void Batch_StopsAtTheFirstBadEntry_DoneIsTheNumberApplied()
    {
        var d = Booted();
        d.WriteRequests(
            (EntryPtr(L1Frame, 100), (101ul << 12) | P),
            (EntryPtr(L1Frame, 101), (102ul << 12) | P),
            (EntryPtr(L1Frame, 102), (L2Frame << 12) | P | Rw),
            (EntryPtr(L1Frame, 103), (104ul << 12) | P));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 4, DonePtr, ReservedDomainId.Self), Is.EqualTo(-XenErrno.EBUSY));
        Assert.That(d.ReadUInt32(DonePtr), Is.EqualTo(2u));
        Assert.That(Pte.Mfn(d.ReadEntry(L1Frame, 101)), Is.EqualTo(102ul));
        Assert.That(Pte.Mfn(d.ReadEntry(L1Frame, 102)), Is.EqualTo(102ul), "the bad request changed nothing");
        Assert.That(Pte.Mfn(d.ReadEntry(L1Frame, 103)), Is.EqualTo(103ul), "nothing after it ran");
    }

    [Test]
    public void BadRequestArray_IsEfault_WithDoneTheNumberCopied()
    {
        // The array faults at request 1: __copy_from_guest fails -> -EFAULT, done = 1.
        var d = Booted();
        ulong reqs = (4ul << 20) - 16;
        d.Write(reqs, [.. BitConverter.GetBytes(EntryPtr(L1Frame, 100)), .. BitConverter.GetBytes((101ul << 12) | P)]);
        Assert.That(d.Call(HypercallNumber.MmuUpdate, reqs, 2, DonePtr, ReservedDomainId.Self), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(d.ReadUInt32(DonePtr), Is.EqualTo(1u));
    }

    [Test]
    public void RequestArrayInXensRange_IsEfaultBeforeAnything_DoneUntouched()
    {
        // guest_handle_okay -> __addr_ok: 0xFFFF800000000000 is inside Xen's range.
        var d = Booted();
        d.Write(DonePtr, BitConverter.GetBytes(0xAAAAAAAAu));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, 0xFFFF_8000_0000_0000, 1, DonePtr, ReservedDomainId.Self), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(d.ReadUInt32(DonePtr), Is.EqualTo(0xAAAAAAAAu));
    }

    [Test]
    public void BadDonePointer_IsIgnored()
    {
        var d = Booted();
        d.WriteRequests((EntryPtr(L1Frame, 100), (101ul << 12) | P));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, BadPointer, ReservedDomainId.Self), Is.Zero);
    }

    [Test]
    public void ForeignDomid_OwnIdIsEsrch_Dom0IsEpermPerRequest_UnknownIsEsrch()
    {
        // get_pg_owner: our own id named explicitly -> NULL -> -ESRCH; dom0 exists, and the dummy
        // XSM policy refuses the request (-EPERM); no such domain -> -ESRCH.
        var d = Booted();
        d.WriteRequests((EntryPtr(L1Frame, 100), (101ul << 12) | P));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, DonePtr, DomainId.FirstGuest), Is.EqualTo(-XenErrno.ESRCH));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, DonePtr, DomainId.Dom0), Is.EqualTo(-XenErrno.EPERM));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 0, DonePtr, DomainId.Dom0), Is.Zero);
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, DonePtr, 42), Is.EqualTo(-XenErrno.ESRCH));

        // pt_dom = (foreigndom >> 16) - 1: an unknown domain -> -ESRCH.
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, DonePtr, (43u << 16) | ReservedDomainId.Self), Is.EqualTo(-XenErrno.ESRCH));
    }

    [Test]
    public void DomidIo_MayOnlyWriteNonPresentL1Entries()
    {
        // DOMID_IO passes xsm_mmu_update; a present L1 entry naming our RAM is then not the page
        // owner's (-EBUSY), an L2 update with pg_owner != pt_owner is -EINVAL.
        var d = Booted();
        d.WriteRequests((EntryPtr(L1Frame, 100), (101ul << 12) | P));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, 0, ReservedDomainId.Io), Is.EqualTo(-XenErrno.EBUSY));
        d.WriteRequests((EntryPtr(L1Frame, 100), 0));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, 0, ReservedDomainId.Io), Is.Zero);
        d.WriteRequests((EntryPtr(L2Frame, 1), 0));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, Reqs, 1, 0, ReservedDomainId.Io), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void Compat_SameRequestLayout_ArgumentsAre32Bit()
    {
        var d = Booted(is64Bit: false);
        d.WriteRequests((EntryPtr(L1Frame, 100), (L1Frame << 12) | P | Rw), (EntryPtr(L1Frame, 100), (L1Frame << 12) | P));
        Assert.That(d.Call(HypercallNumber.MmuUpdate, 0xFFFF_FFFF_0000_0000 | Reqs, 2, DonePtr, ReservedDomainId.Self), Is.EqualTo(-XenErrno.EBUSY));
        Assert.That(d.ReadUInt32(DonePtr), Is.Zero);
    }
}
