using System.Buffers.Binary;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_sched_op(cmd, arg) (public/sched.h, xen/common/sched/core.c do_sched_op).
/// This domain has one vCPU and nothing else runs: no timer fires and no other domain sends while
/// it is blocked. So a vCPU that would block (SCHEDOP_block, or SCHEDOP_poll with nothing pending)
/// is woken at once, as if by a spurious wakeup, which the ABI lets guests see (they re-check
/// their condition); SCHEDOP_block still re-enables event delivery first, so a pending event is
/// delivered as it returns.
/// </summary>
internal static class SchedOp
{
    /// <summary>do_poll's "fairly arbitrary limit" on nr_ports.</summary>
    public const uint MaxPollPorts = 128;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        int cmd = (int)a.A1;
        switch (cmd)
        {
            case SchedOpCommand.Yield:
                return 0;
            case SchedOpCommand.Block:
                // vcpu_block_enable_events: local_event_delivery_enable, then block unless
                // local_events_need_delivery.
                if (ctx.Domain.EventChannels.SharedInfo is { } si)
                    si.UpcallMask = 0;
                return 0;
            case SchedOpCommand.Poll:
                return Poll(ctx, a.A2);
            case SchedOpCommand.Shutdown:
            case SchedOpCommand.ShutdownCode:
                {
                    // struct sched_shutdown { unsigned int reason; }
                    if (!ctx.Guest.TryReadUInt32(a.A2, out uint reason))
                        return -XenErrno.EFAULT;
                    if (reason > (uint)ShutdownReason.SoftReset)
                        return -XenErrno.EINVAL;
                    if (cmd == SchedOpCommand.ShutdownCode)
                    {
                        ctx.ShutdownCode = (ShutdownReason)reason;
                        return 0;
                    }

                    ctx.Shutdown((ShutdownReason)reason);
                    return 0;
                }

            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>
    /// SCHEDOP_poll, struct sched_poll { XEN_GUEST_HANDLE(evtchn_port_t) ports; unsigned int
    /// nr_ports; uint64_t timeout; } (native: 24 bytes, nr_ports at 8, timeout at 16; compat:
    /// 16 bytes, nr_ports at 4, timeout at 8). do_poll: nr_ports above 128 is -EINVAL; a port
    /// array outside guest space (guest_handle_okay) -EFAULT; then returns 0 at once if an
    /// upcall is due (local_events_need_delivery); otherwise each port is read (-EFAULT) and
    /// checked (at or above max_evtchns: -EINVAL), and a pending one returns 0. With nothing
    /// pending the vCPU would block until a listed port is raised or the timeout passes: here
    /// it wakes at once (see the class comment).
    /// </summary>
    private static long Poll(IHypercallContext ctx, ulong arg)
    {
        var s = new byte[ctx.Is64Bit ? 24 : 16];
        if (!ctx.Guest.TryRead(arg, s))
            return -XenErrno.EFAULT;
        ulong ports = ctx.Is64Bit ? BinaryPrimitives.ReadUInt64LittleEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(ctx.Is64Bit ? 8 : 4));
        if (count > MaxPollPorts)
            return -XenErrno.EINVAL;
        if (!GuestHandle.Okay(ctx, ports, count * 4ul))
            return -XenErrno.EFAULT;
        var channels = ctx.Domain.EventChannels;
        if (channels.SharedInfo is { NeedDelivery: true })
            return 0;
        for (uint i = 0; i < count; i++)
        {
            if (!ctx.Guest.TryReadUInt32(ports + (4ul * i), out uint port))
                return -XenErrno.EFAULT;
            if (port >= channels.MaxEventChannels)
                return -XenErrno.EINVAL;
            if (channels.IsPending(port))
                return 0;
        }

        return 0;
    }
}
