using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Pv.Memory;
using static Xtf.Tests.Xen.Pv.PvMmuTestDomain;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// Xen's page-type system (xen/arch/x86/mm.c _get_page_type, promote_lN_table, pin/unpin in
/// do_mmuext_op) as the domain builder's pin and the guest's pins see it.
/// </summary>
[TestFixture]
public sealed class PageTypeTests
{
    [Test]
    public void PinInitial_Pv64_GivesEveryTableItsLevelAndPinsTheRoot()
    {
        var d = new PvMmuTestDomain(is64Bit: true);
        Assert.That(d.Boot(), Is.Zero);
        var f = d.Mm.Frames;

        // Root: the pin's reference and the vCPU's guest_table reference.
        Assert.That((f.Type(Root), f.TypeCount(Root), f.IsPinned(Root)), Is.EqualTo((PageType.L4, 2, true)));
        Assert.That((f.Type(L3Frame), f.TypeCount(L3Frame)), Is.EqualTo((PageType.L3, 1)));
        Assert.That((f.Type(L2Frame), f.TypeCount(L2Frame)), Is.EqualTo((PageType.L2, 1)));
        Assert.That((f.Type(L1Frame), f.TypeCount(L1Frame)), Is.EqualTo((PageType.L1, 1)));

        // Each RW L1 entry holds one PGT_writable_page reference on its frame.
        Assert.That((f.Type(20), f.TypeCount(20)), Is.EqualTo((PageType.Writable, 1)));
        Assert.That((d.KernelRoot, d.Cpu.Cr3), Is.EqualTo((Root, Root << 12)));
    }

    [Test]
    public void PinInitial_Pv64_AdjustGuestEntries_ForcesUserAndMarksKernelMappings()
    {
        // adjust_guest_l1e: an entry without U gets U | _PAGE_GUEST_KERNEL (bit 52) and no G;
        // adjust_guest_l2e/l3e add U; adjust_guest_l4e adds A | U.
        var d = new PvMmuTestDomain(is64Bit: true);
        d.Boot();
        Assert.That(d.ReadEntry(L1Frame, 20), Is.EqualTo((20ul << 12) | P | Rw | U | Pte.GuestKernel));
        Assert.That(d.ReadEntry(L2Frame, 0), Is.EqualTo((L1Frame << 12) | P | Rw | U));
        Assert.That(d.ReadEntry(L3Frame, 0), Is.EqualTo((L2Frame << 12) | P | Rw | U));
        Assert.That(d.ReadEntry(Root, 0), Is.EqualTo((L3Frame << 12) | P | Rw | U | Pte.Accessed));

        // init_xen_l4_slots wrote Xen's slot 256.
        Assert.That(d.ReadEntry(Root, 256), Is.EqualTo((XenM2pFrame << 12) | P | U));
    }

    [Test]
    public void PinInitial_Pv32_L3Slot3IsPaeXenL2_AndCompatL3eGetsUserAndRw()
    {
        var d = new PvMmuTestDomain(is64Bit: false);
        Assert.That(d.Boot(), Is.Zero);
        var f = d.Mm.Frames;
        Assert.That((f.Type(Root), f.TypeCount(Root)), Is.EqualTo((PageType.L3, 2)));
        Assert.That((f.Type(L2Frame), f.IsPaeXenL2(L2Frame)), Is.EqualTo((PageType.L2, true)));
        Assert.That((f.Type(L3Frame), f.IsPaeXenL2(L3Frame)), Is.EqualTo((PageType.L2, false)));

        // adjust_guest_l3e for a 32-bit domain: U | RW; pv32 L1 entries are left as they are.
        Assert.That(d.ReadEntry(Root, 0), Is.EqualTo((L3Frame << 12) | P | U | Rw));
        Assert.That(d.ReadEntry(L1Frame, 20), Is.EqualTo((20ul << 12) | P | Rw));

        // init_xen_pae_l2_slots: 428 (0xF5800000 >> 21 & 511) up are Xen's; CR3 = Xen's L4, slot 0 = the L3.
        Assert.That(d.ReadEntry(L2Frame, 428), Is.EqualTo((XenM2pFrame << 12) | P));
        Assert.That(d.ReadEntry(L2Frame, 427), Is.Zero);
        Assert.That(d.Cpu.Cr3, Is.EqualTo(XenCompatL4 << 12));
    }

    [Test]
    public void PinInitial_Pv32_L3Slot3NotPresent_IsEinval()
    {
        // promote_l3_table: "3rd L3 slot contains L2 with Xen-private mappings. It *must* exist."
        var d = new PvMmuTestDomain(is64Bit: false);
        d.BuildStartOfDay();
        d.WriteEntry(Root, 3, 0);
        Assert.That(d.Mm.PinInitial(Root), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Mm.Frames.TypeCount(L3Frame), Is.Zero, "references taken for slot 0 are dropped on the failure");
        Assert.That(d.Mm.Frames.TypeCount(20), Is.Zero);
    }

    [Test]
    public void PinInitial_WritableMappingOfOwnPageTable_FailsValidation()
    {
        // The start-of-day L1 maps the L2 read-write. The L2 is being validated (typed L2) when
        // promote_l1_table asks for a writable reference on it: get_page_from_l1e's -EBUSY, which
        // every level above returns as its own failure.
        var d = new PvMmuTestDomain(is64Bit: true);
        d.BuildStartOfDay();
        d.WriteEntry(L1Frame, (int)L2Frame, (L2Frame << 12) | P | Rw);
        Assert.That(d.Mm.PinInitial(Root), Is.EqualTo(-XenErrno.EBUSY));
        Assert.That(d.Mm.Frames.Type(Root), Is.EqualTo(PageType.None));
        Assert.That(d.Mm.Frames.TypeCount(20), Is.Zero, "the L1's references were dropped");
    }

    [Test]
    public void PinUnpin_TypeCounts_SecondPinIsEinval_UnpinOfUnpinnedIsEinval()
    {
        var d = new PvMmuTestDomain(is64Bit: true);
        d.Boot();
        const ulong table = 30; // mapped RW by the start-of-day L1: first make that mapping read-only.
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, (int)table), (table << 12) | P), Is.Zero);
        Assert.That(d.Mm.Frames.TypeCount(table), Is.Zero);

        Assert.That(d.Ext(MmuextCommand.PinL1Table, table), Is.Zero);
        Assert.That((d.Mm.Frames.Type(table), d.Mm.Frames.TypeCount(table), d.Mm.Frames.IsPinned(table)), Is.EqualTo((PageType.L1, 1, true)));

        // "mfn already pinned": -EINVAL, and the extra type reference is dropped again.
        Assert.That(d.Ext(MmuextCommand.PinL1Table, table), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Mm.Frames.TypeCount(table), Is.EqualTo(1));

        // Pinning it as another level while typed L1: get_page_type's "Bad type" -EINVAL.
        Assert.That(d.Ext(MmuextCommand.PinL2Table, table), Is.EqualTo(-XenErrno.EINVAL));

        Assert.That(d.Ext(MmuextCommand.UnpinTable, table), Is.Zero);
        Assert.That((d.Mm.Frames.Type(table), d.Mm.Frames.TypeCount(table), d.Mm.Frames.IsPinned(table)), Is.EqualTo((PageType.None, 0, false)));
        Assert.That(d.Ext(MmuextCommand.UnpinTable, table), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void Pin_FrameNotTheGuests_IsEinval()
    {
        var d = new PvMmuTestDomain(is64Bit: true);
        d.Boot();
        Assert.That(d.Ext(MmuextCommand.PinL1Table, XenM2pFrame), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Ext(MmuextCommand.PinL1Table, 1ul << 40), Is.EqualTo(-XenErrno.EINVAL));

        // shared_info is the guest's but typed writable for good: it cannot become a page table.
        Assert.That(d.Ext(MmuextCommand.PinL1Table, SharedInfo), Is.EqualTo(-XenErrno.EINVAL));
    }

    [Test]
    public void PinL4_Pv32_IsIgnored()
    {
        // do_mmuext_op: MMUEXT_PIN_L4_TABLE for a 32-bit domain breaks out with rc 0.
        var d = new PvMmuTestDomain(is64Bit: false);
        d.Boot();
        Assert.That(d.Ext(MmuextCommand.PinL4Table, 40), Is.Zero);
        Assert.That(d.Mm.Frames.TypeCount(40), Is.EqualTo(1), "still only the writable reference of its L1 mapping");
    }

    [Test]
    public void NewBaseptr_NonL4Frame_IsEinval_AndAValidL4SwitchesAndReleasesTheOld()
    {
        var d = new PvMmuTestDomain(is64Bit: true);
        d.Boot();
        Assert.That(d.Ext(MmuextCommand.NewBaseptr, L1Frame), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Ext(MmuextCommand.NewBaseptr, XenM2pFrame), Is.EqualTo(-XenErrno.EINVAL));

        // A second L4 sharing the L3: make frame 40 read-only, copy slot 0, install it.
        const ulong l4 = 40;
        Assert.That(d.MmuUpdate1(EntryPtr(L1Frame, (int)l4), (l4 << 12) | P), Is.Zero);
        d.WriteEntry(l4, 0, (L3Frame << 12) | P | Rw);
        Assert.That(d.Ext(MmuextCommand.NewBaseptr, l4), Is.Zero);
        Assert.That((d.KernelRoot, d.Mm.Frames.TypeCount(l4), d.Mm.Frames.TypeCount(Root)), Is.EqualTo((l4, 1, 1)));
        Assert.That(d.Mm.Frames.TypeCount(L3Frame), Is.EqualTo(2), "referenced by both L4s");
    }

    [Test]
    public void NewUserBaseptr_TakesAnL4Reference_AndZeroDropsIt()
    {
        var d = new PvMmuTestDomain(is64Bit: true);
        d.Boot();
        Assert.That(d.Ext(MmuextCommand.NewUserBaseptr, Root), Is.Zero);
        Assert.That((d.UserRoot, d.Mm.Frames.TypeCount(Root)), Is.EqualTo((Root, 3)));
        Assert.That(d.Ext(MmuextCommand.NewUserBaseptr, 0), Is.Zero);
        Assert.That((d.UserRoot, d.Mm.Frames.TypeCount(Root)), Is.EqualTo((0ul, 2)));
    }
}
