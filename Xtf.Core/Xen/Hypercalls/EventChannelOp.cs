using System.Buffers.Binary;
using Xtf.Core.Xen.Events;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_event_channel_op(cmd, arg) (public/event_channel.h, xen/common/event_channel.c
/// do_event_channel_op): the argument structure is copied in (-EFAULT), the command runs, and
/// a structure with outputs is copied back on success (-EFAULT). The layouts are the same for
/// native and compat callers. Commands not implemented here (bind_pirq, bind_vcpu, reset)
/// return -ENOSYS, as unknown ones do; the FIFO ABI's commands check their arguments as Xen
/// does, but the domain stays on the 2-level ABI. This domain has one vCPU: a vCPU other than 0
/// does not exist (-ENOENT).
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

            case EventChannelCommand.BindInterdomain:
                {
                    // struct evtchn_bind_interdomain { domid_t remote_dom; evtchn_port_t remote_port; evtchn_port_t local_port; }
                    var s = new byte[12];
                    if (!ctx.Guest.TryRead(arg, s))
                        return -XenErrno.EFAULT;
                    ushort remote = BinaryPrimitives.ReadUInt16LittleEndian(s);
                    // rcu_lock_domain_by_id: ourselves (DOMID_SELF or our id) or dom0, whose only
                    // port for us is the console backend's, already bound (-EINVAL); no other domain exists.
                    if (remote != DomainId.Self && remote != ctx.Domain.Id)
                        return remote == DomainId.Dom0 ? -XenErrno.EINVAL : -XenErrno.ESRCH;
                    long port = channels.BindInterdomainToSelf(BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4)));
                    return port < 0 ? port : WriteBack(ctx, arg, s, 8, (uint)port);
                }

            case EventChannelCommand.BindVirq:
                {
                    // struct evtchn_bind_virq { uint32_t virq; uint32_t vcpu; evtchn_port_t port; }
                    var s = new byte[12];
                    if (!ctx.Guest.TryRead(arg, s))
                        return -XenErrno.EFAULT;
                    uint virq = BinaryPrimitives.ReadUInt32LittleEndian(s);
                    uint vcpu = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4));
                    if (virq >= EventChannels.VirqCount)
                        return -XenErrno.EINVAL;
                    if (Virq.IsGlobal(virq) && vcpu != 0)
                        return -XenErrno.EINVAL;
                    if (vcpu != 0)
                        return -XenErrno.ENOENT;
                    long port = channels.BindVirq(virq);
                    return port < 0 ? port : WriteBack(ctx, arg, s, 8, (uint)port);
                }

            case EventChannelCommand.BindIpi:
                {
                    // struct evtchn_bind_ipi { uint32_t vcpu; evtchn_port_t port; }
                    var s = new byte[8];
                    if (!ctx.Guest.TryRead(arg, s))
                        return -XenErrno.EFAULT;
                    if (BinaryPrimitives.ReadUInt32LittleEndian(s) != 0)
                        return -XenErrno.ENOENT;
                    long port = channels.BindIpi();
                    return port < 0 ? port : WriteBack(ctx, arg, s, 4, (uint)port);
                }

            case EventChannelCommand.Unmask:
                // struct evtchn_unmask { evtchn_port_t port; }
                return ctx.Guest.TryReadUInt32(arg, out uint unmaskPort) ? channels.Unmask(unmaskPort) : -XenErrno.EFAULT;

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
                    if (status == EventChannelStatus.Virq)
                        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(16), remotePort);
                    return ctx.Guest.TryWrite(arg, s) ? 0 : -XenErrno.EFAULT;
                }

            case EventChannelCommand.InitControl:
                {
                    // struct evtchn_init_control { u64 control_gfn; u32 offset; u32 vcpu; u8 link_bits (OUT); u8 pad[7]; }
                    var s = new byte[24];
                    if (!ctx.Guest.TryRead(arg, s))
                        return -XenErrno.EFAULT;
                    return InitControl(ctx, BinaryPrimitives.ReadUInt64LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(8)), BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(12)));
                }

            case EventChannelCommand.ExpandArray:
                // struct evtchn_expand_array { u64 array_gfn; }: evtchn_fifo_expand_array is
                // -EOPNOTSUPP while the domain has no FIFO event array (d->evtchn_fifo).
                return ctx.Guest.TryRead(arg, stackalloc byte[8]) ? -XenErrno.EOPNOTSUPP : -XenErrno.EFAULT;

            case EventChannelCommand.SetPriority:
                {
                    // struct evtchn_set_priority { evtchn_port_t port; u32 priority; }: an invalid
                    // port is -EINVAL; the 2-level port ops have no set_priority (-ENOSYS).
                    var s = new byte[8];
                    if (!ctx.Guest.TryRead(arg, s))
                        return -XenErrno.EFAULT;
                    return channels.IsValid(BinaryPrimitives.ReadUInt32LittleEndian(s)) ? -XenErrno.ENOSYS : -XenErrno.EINVAL;
                }

            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>sizeof(evtchn_fifo_control_block_t): u32 ready, u32 head[16].</summary>
    private const uint FifoControlBlockSize = 4 + (16 * 4);

    /// <summary>
    /// evtchn_fifo_init_control's checks in Xen's order (xen/common/event_fifo.c): a vCPU that
    /// does not exist (-ENOENT), a control block that would cross the page (offset above
    /// PAGE_SIZE - 68: -EINVAL) or is not 8-byte aligned (-EINVAL), then map_guest_page:
    /// get_page_from_gfn and get_page_type(PGT_writable_page) must succeed (-EINVAL): the gfn
    /// must be RAM of the domain (HVM: populated in the p2m; PV: a frame the guest owns that may
    /// be typed writable, not a page table or descriptor page). A request that passes every check
    /// would switch the domain to the FIFO port ops; FIFO delivery (event array words, queues,
    /// the control block's READY bits) is not modelled, so it is refused with -ENOSYS, as a Xen
    /// without FIFO support would, and the domain stays on the 2-level ABI.
    /// </summary>
    private static long InitControl(IHypercallContext ctx, ulong gfn, uint offset, uint vcpu)
    {
        if (vcpu != 0)
            return -XenErrno.ENOENT;
        if (offset > 4096 - FifoControlBlockSize || (offset & 7) != 0)
            return -XenErrno.EINVAL;
        if (!IsWritableGuestFrame(ctx, gfn))
            return -XenErrno.EINVAL;
        return -XenErrno.ENOSYS;
    }

    private static bool IsWritableGuestFrame(IHypercallContext ctx, ulong gfn)
    {
        if (ctx.IsHvm)
            return ctx.Guest.Cpu.Memory.GetFrame(gfn, forWrite: false) is not null;
        var frames = ((Pv.PvDomain)ctx).Mmu.Frames;
        return frames.IsGuests(gfn) && (frames.TypeCount(gfn) == 0 || frames.Type(gfn) == Pv.Memory.PageType.Writable);
    }

    /// <summary>The output port copied back into the argument structure (-EFAULT if that fails; the port stays bound, as in Xen).</summary>
    private static long WriteBack(IHypercallContext ctx, ulong arg, byte[] s, int offset, uint port)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(offset), port);
        return ctx.Guest.TryWrite(arg, s) ? 0 : -XenErrno.EFAULT;
    }
}
