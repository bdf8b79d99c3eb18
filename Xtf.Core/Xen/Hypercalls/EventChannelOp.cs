using System.Buffers.Binary;
using Xtf.Core.Xen.Events;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_event_channel_op(cmd, arg) (public/event_channel.h, xen/common/event_channel.c
/// do_event_channel_op): the argument structure is copied in (-EFAULT), the command runs, and
/// a structure with outputs is copied back on success (-EFAULT). The layouts are the same for
/// native and compat callers. Commands not implemented here return -ENOSYS, as unknown ones do.
/// </summary>
internal static class EventChannelOp
{
    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        int cmd = (int)a.A1;
        ulong arg = a.A2;
        var channels = ctx.Domain.EventChannels;
        switch (cmd)
        {
            case EventChannelCommand.AllocUnbound:
                {
                    // struct evtchn_alloc_unbound { domid_t dom, remote_dom; evtchn_port_t port; }
                    var s = new byte[8];
                    if (!ctx.Guest.TryRead(arg, s))
                        return -XenErrno.EFAULT;
                    ushort dom = BinaryPrimitives.ReadUInt16LittleEndian(s);
                    ushort remote = BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(2));
                    int rc = ctx.Domain.CheckTarget(dom);
                    if (rc != 0)
                        return rc;
                    long port = channels.AllocUnbound(remote == DomainId.Self ? ctx.Domain.Id : remote);
                    if (port < 0)
                        return port;
                    BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), (uint)port);
                    return ctx.Guest.TryWrite(arg, s) ? 0 : -XenErrno.EFAULT;
                }

            case EventChannelCommand.Send:
                // struct evtchn_send { evtchn_port_t port; }
                return ctx.Guest.TryReadUInt32(arg, out uint sendPort) ? channels.Send(sendPort) : -XenErrno.EFAULT;

            case EventChannelCommand.Close:
                // struct evtchn_close { evtchn_port_t port; }
                return ctx.Guest.TryReadUInt32(arg, out uint closePort) ? channels.Close(closePort) : -XenErrno.EFAULT;

            case EventChannelCommand.Status:
                {
                    // struct evtchn_status { domid_t dom; evtchn_port_t port; uint32_t status, vcpu;
                    //   union { struct { domid_t dom; } unbound; struct { domid_t dom; evtchn_port_t port; } interdomain; ... } u; }
                    var s = new byte[24];
                    if (!ctx.Guest.TryRead(arg, s))
                        return -XenErrno.EFAULT;
                    int rc = ctx.Domain.CheckTarget(BinaryPrimitives.ReadUInt16LittleEndian(s));
                    if (rc != 0)
                        return rc;
                    uint port = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4));
                    if (!channels.IsValid(port))
                        return -XenErrno.EINVAL;
                    var (status, remoteDom, remotePort) = channels.Status(port);
                    BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(8), (uint)status);
                    BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(12), 0); // notify_vcpu_id: vCPU 0
                    s.AsSpan(16).Clear();
                    if (status is EventChannelStatus.Unbound or EventChannelStatus.Interdomain)
                        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(16), remoteDom);
                    if (status == EventChannelStatus.Interdomain)
                        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(20), remotePort);
                    return ctx.Guest.TryWrite(arg, s) ? 0 : -XenErrno.EFAULT;
                }

            default:
                return -XenErrno.ENOSYS;
        }
    }
}
