using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;

namespace Xtf.Tests.Xen;

/// <summary>
/// XENMEM_increase_reservation (0), decrease_reservation (1), maximum_ram_page (2),
/// populate_physmap (6) and exchange (11) for an HVM domain (xen/common/memory.c, RELEASE-4.19.0).
/// struct xen_memory_reservation native { extent_start @0, nr_extents u64 @8, extent_order u32 @16,
/// mem_flags u32 @20, domid u16 @24 }; the return is the number of extents done (the start extent
/// on an early failure). The test machine has 1 MiB of RAM (256 frames), so max_pages is
/// 256 + LIBXL_MAXMEM_CONSTANT's 256.
/// </summary>
public sealed class ReservationTests
{
    private const ulong Arg = 0x10000, List = 0x11000;

    private static long Reserve(HypercallTestDomain d, int op, ulong[] extents, uint order = 0, uint memFlags = 0, ushort domid = DomainId.Self, bool nullList = false)
    {
        var s = new byte[32];
        BitConverter.TryWriteBytes(s.AsSpan(0), nullList ? 0 : List);
        BitConverter.TryWriteBytes(s.AsSpan(8), (ulong)extents.Length);
        BitConverter.TryWriteBytes(s.AsSpan(16), order);
        BitConverter.TryWriteBytes(s.AsSpan(20), memFlags);
        BitConverter.TryWriteBytes(s.AsSpan(24), domid);
        d.Write(Arg, s);
        for (int i = 0; i < extents.Length; i++)
            d.Write(List + (ulong)(8 * i), BitConverter.GetBytes(extents[i]));
        return d.Call(HypercallNumber.MemoryOp, (ulong)op, Arg);
    }

    /// <summary>
    /// A reservation preempted between extents (i != nr_done &amp;&amp; hypercall_preempt_check()) continues
    /// as memory_op(op | done &lt;&lt; MEMOP_EXTENT_SHIFT, arg); run again, the continuation does the rest.
    /// Budget 2: the checks before extents 1 and 2 each charge a unit, the second finds it spent.
    /// </summary>
    [Test]
    public void APreemptedDecreaseContinuesAtTheExtentsDone()
    {
        var d = new HypercallTestDomain(true);
        d.Vm.Cpu.Budget = 2;
        long rc = Reserve(d, 1, [0x20, 0x21, 0x22, 0x23]);
        var a = d.Preemption.Arguments;
        Assert.Multiple(() =>
        {
            Assert.That(rc, Is.EqualTo(HypercallNumber.MemoryOp), "hypercall_create_continuation returns op");
            Assert.That((a.A1, a.A2), Is.EqualTo((1ul | (2ul << 6), Arg)));
            Assert.That(d.Vm.Memory.IsPopulated(0x21), Is.False);
            Assert.That(d.Vm.Memory.IsPopulated(0x22), Is.True);
        });

        d.Vm.Cpu.Budget = long.MaxValue;
        Assert.That(d.Call(HypercallNumber.MemoryOp, a.A1, a.A2), Is.EqualTo(4), "extents done in all");
        Assert.That(d.Vm.Memory.IsPopulated(0x23), Is.False);
    }

    /// <summary>
    /// XSA-277's sequence: ballooning a gfn out succeeds once (1 extent), then the gfn is a p2m hole
    /// (guest_remove_page: p2m_invalid, -ENOENT) and further attempts do 0 extents. The hole reads as
    /// all ones, copies to it fail (-EFAULT from console_io's copy), and tot_pages drops by one.
    /// </summary>
    [Test]
    public void DecreaseLeavesAHole()
    {
        var d = new HypercallTestDomain(true);
        d.Write(0x20000, [1, 2, 3, 4]);
        ulong before = d.Domain.TotPages;
        Assert.That(Reserve(d, 1, [0x20]), Is.EqualTo(1));
        Assert.That(d.Domain.TotPages, Is.EqualTo(before - 1));
        Assert.That(d.Vm.Memory.IsPopulated(0x20), Is.False);
        Assert.That(d.Read(0x20000, 4), Is.EqualTo(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }));
        Assert.That(Reserve(d, 1, [0x20]), Is.Zero);
        Assert.That(Reserve(d, 1, [0x20]), Is.Zero);
        Assert.That(d.Call(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 4, 0x20000), Is.EqualTo(-XenErrno.EFAULT));
    }

    /// <summary>
    /// XSA-186's setup: populate_physmap at gfn 0xfffff, far above the start-of-day RAM, gives a
    /// fresh zeroed frame there; repopulating the hole left by a decrease gives a zeroed frame too.
    /// </summary>
    [Test]
    public void PopulateAboveRamAndIntoAHole()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(Reserve(d, 6, [0xFFFFF]), Is.EqualTo(1));
        Assert.That(d.Vm.Memory.IsPopulated(0xFFFFF), Is.True);
        d.Vm.Cpu.WritePhysical(0xFFFFF000, 4, 0x11223344);
        Assert.That(d.Vm.Cpu.ReadPhysical(0xFFFFF000, 4), Is.EqualTo(0x11223344));

        d.Write(0x30000, [9]);
        Assert.That(Reserve(d, 1, [0x30]), Is.EqualTo(1));
        Assert.That(Reserve(d, 6, [0x30]), Is.EqualTo(1));
        Assert.That(d.Read(0x30000, 1), Is.EqualTo(new byte[] { 0 }));
    }

    /// <summary>
    /// Allocation is bounded by max_pages: increase_reservation with a null list (XSA-231's call)
    /// succeeds until tot_pages reaches it, then does 0 extents; an order above domu_max_order (9)
    /// does nothing; a node for a guest without vNUMA is ignored unless exact (then the start extent).
    /// </summary>
    [Test]
    public void IncreaseIsBoundedByMaxPages()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(Reserve(d, 0, new ulong[1], order: 10, nullList: true), Is.Zero);
        Assert.That(Reserve(d, 0, new ulong[1], memFlags: 0x4200, nullList: true), Is.EqualTo(1));
        Assert.That(Reserve(d, 0, new ulong[1], memFlags: 0x4200 | (1u << 17), nullList: true), Is.Zero);
        Assert.That(Reserve(d, 0, new ulong[1], order: 8, nullList: true), Is.Zero, "257 + 256 > 512");
        Assert.That(Reserve(d, 0, new ulong[1], order: 7, nullList: true), Is.EqualTo(1));
        Assert.That(d.Domain.TotPages, Is.EqualTo(256ul + 1 + 128));
        Assert.That(Reserve(d, 0, new ulong[200], nullList: true), Is.EqualTo(127));
        Assert.That(d.Domain.TotPages, Is.EqualTo(512ul));
    }

    /// <summary>Early failures return the start extent: another domain (-ESRCH inside), address bits of 1..12, a start beyond the list.</summary>
    [Test]
    public void EarlyFailuresReturnTheStartExtent()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(Reserve(d, 6, [0x40], domid: 5), Is.Zero);
        Assert.That(Reserve(d, 6, [0x40], memFlags: 12), Is.Zero);
        Assert.That(Reserve(d, 1, [0x40]), Is.EqualTo(1));
        Assert.That(d.Call(HypercallNumber.MemoryOp, 6 | (1ul << 6), Arg), Is.EqualTo(1), "start extent 1 of 1");
    }

    /// <summary>
    /// maximum_ram_page is max_page (the machine's 256 frames), -EINVAL with a start extent; an HVM
    /// exchange fails at steal_page (-EOPNOTSUPP: external paging) and writes nr_exchanged back.
    /// </summary>
    [Test]
    public void MaximumRamPageAndHvmExchange()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.MemoryOp, 2), Is.EqualTo(256));
        Assert.That(d.Call(HypercallNumber.MemoryOp, 2 | (1ul << 6)), Is.EqualTo(-XenErrno.EINVAL));

        var mx = new byte[72];
        BitConverter.TryWriteBytes(mx.AsSpan(0), List);
        BitConverter.TryWriteBytes(mx.AsSpan(8), 1ul);
        BitConverter.TryWriteBytes(mx.AsSpan(24), DomainId.Self);
        BitConverter.TryWriteBytes(mx.AsSpan(32), List + 0x100);
        BitConverter.TryWriteBytes(mx.AsSpan(40), 1ul);
        BitConverter.TryWriteBytes(mx.AsSpan(56), DomainId.Self);
        d.Write(List, BitConverter.GetBytes(0x40ul));
        d.Write(Arg, mx);
        Assert.That(d.Call(HypercallNumber.MemoryOp, 11, Arg), Is.EqualTo(-XenErrno.EOPNOTSUPP));
        BitConverter.TryWriteBytes(mx.AsSpan(16), 10u);
        d.Write(Arg, mx);
        Assert.That(d.Call(HypercallNumber.MemoryOp, 11, Arg), Is.EqualTo(-XenErrno.EPERM), "order 10 > max_order 9");
        BitConverter.TryWriteBytes(mx.AsSpan(16), 1u);
        d.Write(Arg, mx);
        Assert.That(d.Call(HypercallNumber.MemoryOp, 11, Arg), Is.EqualTo(-XenErrno.EINVAL), "1 << 1 pages in, 1 out");
        Assert.That(d.Call(HypercallNumber.MemoryOp, 11 | (1ul << 6), Arg), Is.EqualTo(-XenErrno.EINVAL));
    }
}
