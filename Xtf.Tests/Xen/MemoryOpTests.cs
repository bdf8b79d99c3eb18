using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;

namespace Xtf.Tests.Xen;

/// <summary>
/// HYPERVISOR_memory_op (12) XENMEM_add_to_physmap (7) for HVM (xen/common/memory.c,
/// public/memory.h), and the event-channel bitmaps of the shared_info page it maps: struct
/// xen_add_to_physmap native { domid u16 @0, size u16 @2, space u32 @4, idx u64 @8, gpfn u64 @16 },
/// compat { ..., idx u32 @8, gpfn u32 @12 }. Errors: ESRCH 3, EPERM 1, EFAULT 14, EINVAL 22,
/// EDOM 33, ENOSYS 38. Paging is off, so guest addresses are physical.
/// </summary>
public sealed class MemoryOpTests
{
    private const ulong Arg = 0x10000, Gpfn = 0x80;

    private static long AddToPhysmap(HypercallTestDomain d, ushort domid, uint space, ulong idx, ulong gpfn, ulong cmd = 7)
    {
        var s = new byte[d.Is64Bit ? 24 : 16];
        BitConverter.TryWriteBytes(s.AsSpan(0), domid);
        BitConverter.TryWriteBytes(s.AsSpan(4), space);
        if (d.Is64Bit)
        {
            BitConverter.TryWriteBytes(s.AsSpan(8), idx);
            BitConverter.TryWriteBytes(s.AsSpan(16), gpfn);
        }
        else
        {
            BitConverter.TryWriteBytes(s.AsSpan(8), (uint)idx);
            BitConverter.TryWriteBytes(s.AsSpan(12), (uint)gpfn);
        }

        d.Write(Arg, s);
        return d.Call(HypercallNumber.MemoryOp, cmd, Arg);
    }

    /// <summary>do_memory_op: an unknown operation is -ENOSYS; add_to_physmap's start extent (cmd &gt;&gt; 6) must fit its 16-bit size field (-EDOM).</summary>
    [Test]
    public void UnknownOperationAndOversizedStartExtent()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.MemoryOp, 63, Arg), Is.EqualTo(-XenErrno.ENOSYS));
        Assert.That(AddToPhysmap(d, DomainId.Self, 0, 0, Gpfn, cmd: 7 | (0x10000ul << 6)), Is.EqualTo(-XenErrno.EDOM));
    }

    /// <summary>Order of add_to_physmap's checks: copy (-EFAULT), the foreign space (-ENOSYS), the domain (-ESRCH / -EPERM for dom0), then the space: shared_info needs idx 0 and gmfn (2) has no frame here (-EINVAL), and the gpfn must be RAM (-EINVAL).</summary>
    [Test]
    public void AddToPhysmapErrorPaths()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.MemoryOp, 7, HypercallTestDomain.BeyondRam), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(AddToPhysmap(d, 5, 4, 0, Gpfn), Is.EqualTo(-XenErrno.ENOSYS));
        Assert.That(AddToPhysmap(d, 5, 0, 0, Gpfn), Is.EqualTo(-XenErrno.ESRCH));
        Assert.That(AddToPhysmap(d, DomainId.Dom0, 0, 0, Gpfn), Is.EqualTo(-XenErrno.EPERM));
        Assert.That(AddToPhysmap(d, DomainId.Self, 0, 1, Gpfn), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(AddToPhysmap(d, DomainId.Self, 2, 0, Gpfn), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(AddToPhysmap(d, DomainId.Self, 0, 0, 0xFFFFF), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Domain.EventChannels.SharedInfo, Is.Null);
    }

    /// <summary>
    /// A loopback bound before shared_info is mapped: bind_interdomain raises the new local port
    /// (port 4: 1 is xenstore's, 2 the console's, 3 the unbound one), and once shared_info is at
    /// gpfn 0x80 its pending bit (0x800, bit 4), pending_sel bit 0 (vcpu_info + 8 native, + 4
    /// compat) and evtchn_upcall_pending (byte 0) are set.
    /// </summary>
    [TestCase(true, 8)]
    [TestCase(false, 4)]
    public void SharedInfoShowsPortsRaisedBeforeAndAfterItIsMapped(bool wide, int selOffset)
    {
        var d = new HypercallTestDomain(wide);
        d.Write(Arg, [0xF0, 0x7F, 0xF0, 0x7F, 0, 0, 0, 0]);
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.AllocUnbound, Arg), Is.Zero);
        Assert.That(d.ReadInt32(Arg + 4), Is.EqualTo(3));
        d.Write(Arg, [0xF0, 0x7F, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.BindInterdomain, Arg), Is.Zero);
        Assert.That(d.ReadInt32(Arg + 8), Is.EqualTo(4));

        Assert.That(AddToPhysmap(d, DomainId.Self, 0, 0, Gpfn), Is.Zero);
        ulong page = Gpfn << 12;
        Assert.That(d.Read(page + 0x800, 1)[0], Is.EqualTo(1 << 4));
        Assert.That(d.Read(page + (ulong)selOffset, 1)[0], Is.EqualTo(1));
        Assert.That(d.Read(page, 1)[0], Is.EqualTo(1));

        // A send on port 4 raises port 3 (bit 3) in the same word.
        d.Write(Arg, [4, 0, 0, 0]);
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.Send, Arg), Is.Zero);
        Assert.That(d.Read(page + 0x800, 1)[0], Is.EqualTo((1 << 4) | (1 << 3)));
    }

    /// <summary>Mask bitmap at 0xA00 (native) / 0x880 (compat): a masked port's pending bit is set, pending_sel and the upcall are not; unmask sets both.</summary>
    [TestCase(true, 0xA00, 8)]
    [TestCase(false, 0x880, 4)]
    public void MaskedPortsWaitForUnmask(bool wide, int maskOffset, int selOffset)
    {
        var d = new HypercallTestDomain(wide);
        Assert.That(AddToPhysmap(d, DomainId.Self, 0, 0, Gpfn), Is.Zero);
        ulong page = Gpfn << 12;
        d.Write(Arg, [0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.BindIpi, Arg), Is.Zero);
        int port = d.ReadInt32(Arg + 4);
        d.Write(page + (ulong)maskOffset, [(byte)(1 << port)]);
        d.Write(Arg, BitConverter.GetBytes(port));
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.Send, Arg), Is.Zero);
        Assert.That(d.Read(page + 0x800, 1)[0], Is.EqualTo(1 << port));
        Assert.That(d.Read(page + (ulong)selOffset, 1)[0], Is.Zero);
        Assert.That(d.Read(page, 1)[0], Is.Zero);
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.Unmask, Arg), Is.Zero);
        Assert.That(d.Read(page + (ulong)maskOffset, 1)[0], Is.Zero);
        Assert.That(d.Read(page + (ulong)selOffset, 1)[0], Is.EqualTo(1));
        Assert.That(d.Read(page, 1)[0], Is.EqualTo(1));
    }

    /// <summary>
    /// SCHEDOP_poll (struct sched_poll native { ports @0, nr_ports @8, timeout @16 }): more than
    /// 128 ports -EINVAL; an unreadable struct or port list -EFAULT; a port at or above
    /// max_evtchns (4096 native) -EINVAL; a pending port returns 0; nothing pending wakes at
    /// once (0). SCHEDOP_block clears evtchn_upcall_mask.
    /// </summary>
    [Test]
    public void PollAndBlock()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(AddToPhysmap(d, DomainId.Self, 0, 0, Gpfn), Is.Zero);
        const ulong ports = Arg + 0x100;
        long Poll(ulong list, uint count)
        {
            d.Write(Arg, [.. BitConverter.GetBytes(list), .. BitConverter.GetBytes(count), 0, 0, 0, 0, .. new byte[8]]);
            return d.Call(HypercallNumber.SchedOp, SchedOpCommand.Poll, Arg);
        }

        Assert.That(Poll(ports, 129), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Call(HypercallNumber.SchedOp, SchedOpCommand.Poll, HypercallTestDomain.BeyondRam), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(Poll(HypercallTestDomain.BeyondRam, 1), Is.EqualTo(-XenErrno.EFAULT));
        d.Write(ports, BitConverter.GetBytes(4096u));
        Assert.That(Poll(ports, 1), Is.EqualTo(-XenErrno.EINVAL));
        d.Write(ports, BitConverter.GetBytes(1u));
        Assert.That(Poll(ports, 1), Is.Zero);
        Assert.That(Poll(ports, 0), Is.Zero);

        d.Write(Gpfn << 12, [0, 1]);
        Assert.That(d.Call(HypercallNumber.SchedOp, SchedOpCommand.Block), Is.Zero);
        Assert.That(d.Read((Gpfn << 12) + 1, 1)[0], Is.Zero);
    }
}
