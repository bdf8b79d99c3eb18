using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;

namespace Xtf.Tests.Xen;

/// <summary>
/// The FIFO ABI's commands (public/event_channel.h: init_control 11, expand_array 12,
/// set_priority 13) on a 2-level domain, with xen/common/event_fifo.c's checks: struct
/// evtchn_init_control { u64 control_gfn @0; u32 offset @8; u32 vcpu @12; u8 link_bits @16 } (24
/// bytes). ENOENT 2, EINVAL 22, ENOSYS 38, EOPNOTSUPP 95, EFAULT 14.
/// </summary>
public sealed class FifoControlTests
{
    private const ulong Arg = 0x10000;

    private static long InitControl(HypercallTestDomain d, ulong gfn, uint offset, uint vcpu)
    {
        var s = new byte[24];
        BitConverter.TryWriteBytes(s.AsSpan(0), gfn);
        BitConverter.TryWriteBytes(s.AsSpan(8), offset);
        BitConverter.TryWriteBytes(s.AsSpan(12), vcpu);
        d.Write(Arg, s);
        return d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.InitControl, Arg);
    }

    /// <summary>
    /// evtchn_fifo_init_control: the vCPU first (-ENOENT), then the offset (above 4096 - 68 = 4028,
    /// or not 8-aligned: -EINVAL), then map_guest_page (XSA-188's gfn -2, or a decreased gfn: no
    /// page, -EINVAL). Nothing is copied back on failure (link_bits stays 0).
    /// </summary>
    [Test]
    public void InitControlChecks()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(InitControl(d, unchecked((ulong)-2), 0, 1), Is.EqualTo(-XenErrno.ENOENT));
        Assert.That(InitControl(d, 0x20, 4032, 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(InitControl(d, 0x20, 4, 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(InitControl(d, unchecked((ulong)-2), 0, 0), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.Read(Arg + 16, 1), Is.EqualTo(new byte[] { 0 }));
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.InitControl, HypercallTestDomain.BeyondRam), Is.EqualTo(-XenErrno.EFAULT));
        // XENMEM_decrease_reservation of gfn 0x20 (list at 0x11000) leaves no page to map.
        d.Write(0x11000, BitConverter.GetBytes(0x20ul));
        var r = new byte[32];
        BitConverter.TryWriteBytes(r.AsSpan(0), 0x11000ul);
        BitConverter.TryWriteBytes(r.AsSpan(8), 1ul);
        BitConverter.TryWriteBytes(r.AsSpan(24), DomainId.Self);
        d.Write(0x12000, r);
        Assert.That(d.Call(HypercallNumber.MemoryOp, 1, 0x12000), Is.EqualTo(1));
        Assert.That(InitControl(d, 0x20, 4028, 0), Is.EqualTo(-XenErrno.EINVAL));
    }

    /// <summary>
    /// Without a FIFO event array, expand_array is -EOPNOTSUPP (XSA-188's second call);
    /// set_priority is -EINVAL for an invalid port and -ENOSYS on the 2-level port ops.
    /// </summary>
    [Test]
    public void ExpandArrayAndSetPriorityOnTwoLevel()
    {
        var d = new HypercallTestDomain(true);
        d.Write(Arg, BitConverter.GetBytes(0x20ul));
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.ExpandArray, Arg), Is.EqualTo(-XenErrno.EOPNOTSUPP));
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.ExpandArray, HypercallTestDomain.BeyondRam), Is.EqualTo(-XenErrno.EFAULT));
        _ = d.Domain;
        d.Write(Arg, [1, 0, 0, 0, 3, 0, 0, 0]);
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.SetPriority, Arg), Is.EqualTo(-XenErrno.ENOSYS));
        d.Write(Arg, [0, 4, 0, 0, 3, 0, 0, 0]);
        Assert.That(d.Call(HypercallNumber.EventChannelOp, EventChannelCommand.SetPriority, Arg), Is.EqualTo(-XenErrno.EINVAL));
    }
}
