namespace Xtf.Core.Xen.Events;

/// <summary>
/// One domain's event-channel table (xen/common/event_channel.c, 2-level ABI): ports are
/// allocated in buckets, port 0 is reserved, and a port is "valid" once its bucket exists
/// (port_is_valid). A port is free, unbound (waiting for a remote domain), interdomain-bound,
/// bound to a VIRQ, or an IPI port. The hypervisor's own backends (the console) sit at the remote
/// end of an interdomain channel, as xenconsoled does in dom0, and are notified synchronously by
/// EVTCHNOP_send; an interdomain channel whose remote end is this domain (bind_interdomain to
/// an unbound port of our own) is a loopback, whose sends raise the other port here.
/// Events raised on our ports land in shared_info (<see cref="SharedInfo"/>); until an HVM guest
/// maps its shared_info, the pending ports are remembered and raised when it is attached.
/// </summary>
public sealed class EventChannels
{
    /// <summary>Ports per bucket: a page of 64-byte struct evtchn (EVTCHNS_PER_BUCKET).</summary>
    public const uint BucketSize = 64;

    /// <summary>libxl's default max_event_channels is 1023: ports 0..1023.</summary>
    public const uint DefaultMaxPorts = 1024;

    /// <summary>NR_VIRQS (public/xen.h).</summary>
    public const uint VirqCount = 24;

    private readonly Channel[] channels;
    private readonly uint[] virqToPort = new uint[VirqCount];
    private readonly List<uint> raisedBeforeAttach = [];
    private uint validPorts;

    /// <summary>A domain's port table with room for <paramref name="maxPorts"/> ports (the 2-level ABI limit or the domain's max_evtchn_port); port 0 is reserved, as evtchn_init leaves it.</summary>
    public EventChannels(uint maxPorts = DefaultMaxPorts)
    {
        channels = new Channel[maxPorts];
        // evtchn_init: bucket 0 exists from creation and port 0 is never handed out.
        validPorts = Math.Min(BucketSize, maxPorts);
        channels[0].State = ChannelState.Reserved;
    }

    /// <summary>The 2-level bitmaps in the domain's shared_info; null while an HVM guest has not mapped it.</summary>
    public SharedInfoEvents? SharedInfo { get; private set; }

    /// <summary>The domain id of this table's owner (for loopback channels).</summary>
    public ushort DomainId { get; set; } = Events.DomainId.FirstGuest;

    /// <summary>d->max_evtchns: the 2-level limit of the shared_info layout (4096 native, 1024 compat).</summary>
    public uint MaxEventChannels => SharedInfo?.MaxPorts ?? 4096;

    /// <summary>Binds the table to shared_info and raises the ports that became pending before it existed.</summary>
    public void Attach(SharedInfoEvents sharedInfo)
    {
        SharedInfo = sharedInfo;
        foreach (uint port in raisedBeforeAttach)
            sharedInfo.SetPending(port);
        raisedBeforeAttach.Clear();
    }

    /// <summary>port_is_valid: below the allocated buckets.</summary>
    public bool IsValid(uint port) => port < validPorts;

    /// <summary>evtchn_port_is_pending: a valid port whose pending bit is set.</summary>
    public bool IsPending(uint port) =>
        IsValid(port) && (SharedInfo?.IsPending(port) ?? raisedBeforeAttach.Contains(port));

    /// <summary>EVTCHNOP_alloc_unbound's core (get_free_port): the lowest free port, growing a bucket when needed; -ENOSPC when none is left.</summary>
    public long AllocUnbound(ushort remoteDomain)
    {
        long port = FreePort();
        if (port < 0)
            return port;
        channels[port] = new Channel { State = ChannelState.Unbound, RemoteDomain = remoteDomain };
        return port;
    }

    /// <summary>
    /// The toolstack's part plus the backend's bind: a port bound interdomain to
    /// <paramref name="remoteDomain"/>'s <paramref name="remotePort"/>, whose sends run
    /// <paramref name="backend"/>.
    /// </summary>
    public long BindToBackend(ushort remoteDomain, uint remotePort, Action backend)
    {
        long port = FreePort();
        if (port < 0)
            return port;
        channels[port] = new Channel { State = ChannelState.Interdomain, RemoteDomain = remoteDomain, RemotePort = remotePort, Backend = backend };
        return port;
    }

    /// <summary>
    /// evtchn_bind_interdomain with this domain as the remote (DOMID_SELF or our id): the remote
    /// port must be valid, unbound, and waiting for us, else -EINVAL. Both ends become
    /// interdomain, and the new local port is raised at once ("we may have lost notifications
    /// on the remote unbound port").
    /// </summary>
    public long BindInterdomainToSelf(uint remotePort)
    {
        long port = FreePort();
        if (port < 0)
            return port;
        if (!IsValid(remotePort) || channels[remotePort].State != ChannelState.Unbound || channels[remotePort].RemoteDomain != DomainId)
            return -XenErrno.EINVAL;
        uint local = (uint)port;
        channels[local] = new Channel { State = ChannelState.Interdomain, RemoteDomain = DomainId, RemotePort = remotePort, Loopback = true };
        channels[remotePort] = new Channel { State = ChannelState.Interdomain, RemoteDomain = DomainId, RemotePort = local, Loopback = true };
        Raise(local);
        return local;
    }

    /// <summary>
    /// evtchn_bind_virq for vCPU 0: a virq at or above NR_VIRQS is -EINVAL, one already bound
    /// -EEXIST; the caller has checked the vCPU (global VIRQs on vCPU 0 only).
    /// </summary>
    public long BindVirq(uint virq)
    {
        if (virq >= VirqCount)
            return -XenErrno.EINVAL;
        if (virqToPort[virq] != 0)
            return -XenErrno.EEXIST;
        long port = FreePort();
        if (port < 0)
            return port;
        channels[port] = new Channel { State = ChannelState.Virq, Virq = virq };
        virqToPort[virq] = (uint)port;
        return port;
    }

    /// <summary>evtchn_bind_ipi for vCPU 0: a fresh port whose sends raise itself.</summary>
    public long BindIpi()
    {
        long port = FreePort();
        if (port < 0)
            return port;
        channels[port] = new Channel { State = ChannelState.Ipi };
        return port;
    }

    /// <summary>
    /// evtchn_send: an invalid port, or one not bound to anything (or a VIRQ port), is -EINVAL;
    /// an unbound port drops the notification silently; an interdomain port notifies the remote
    /// end (our backend, or our own other port for a loopback); an IPI port raises itself.
    /// </summary>
    public long Send(uint port)
    {
        if (!IsValid(port))
            return -XenErrno.EINVAL;
        var c = channels[port];
        switch (c.State)
        {
            case ChannelState.Unbound:
                return 0;
            case ChannelState.Interdomain when c.Loopback:
                Raise(c.RemotePort);
                return 0;
            case ChannelState.Interdomain:
                c.Backend?.Invoke();
                return 0;
            case ChannelState.Ipi:
                Raise(port);
                return 0;
            default:
                return -XenErrno.EINVAL;
        }
    }

    /// <summary>The remote end of an interdomain port (a backend) notifying us: evtchn_send from its side raises our port; any other port is left alone.</summary>
    public void RaiseFromRemote(uint port)
    {
        if (IsValid(port) && channels[port].State == ChannelState.Interdomain)
            Raise(port);
    }

    /// <summary>send_guest_vcpu_virq / send_guest_global_virq: raises the port bound to the VIRQ, if any.</summary>
    public void RaiseVirq(uint virq)
    {
        if (virq < VirqCount && virqToPort[virq] != 0)
            Raise(virqToPort[virq]);
    }

    /// <summary>
    /// evtchn_close: an invalid, free or reserved port is -EINVAL (so a second close is too). The
    /// remote end of a loopback becomes unbound to us again; a VIRQ is unbound; the port's
    /// pending bit is cleared (evtchn_free).
    /// </summary>
    public long Close(uint port)
    {
        if (!IsValid(port))
            return -XenErrno.EINVAL;
        var c = channels[port];
        if (c.State is ChannelState.Free or ChannelState.Reserved)
            return -XenErrno.EINVAL;
        if (c.State == ChannelState.Virq)
            virqToPort[c.Virq] = 0;
        if (c.State == ChannelState.Interdomain && c.Loopback && c.RemotePort != port)
            channels[c.RemotePort] = new Channel { State = ChannelState.Unbound, RemoteDomain = DomainId };
        channels[port] = default;
        SharedInfo?.ClearPending(port);
        raisedBeforeAttach.Remove(port);
        return 0;
    }

    /// <summary>evtchn_unmask: -EINVAL for an invalid port; otherwise the 2-level unmask, which re-raises a pending port.</summary>
    public long Unmask(uint port)
    {
        if (!IsValid(port))
            return -XenErrno.EINVAL;
        SharedInfo?.Unmask(port);
        return 0;
    }

    /// <summary>evtchn_status for a valid port: free and reserved ports read as closed.</summary>
    public (EventChannelStatus Status, ushort RemoteDomain, uint RemotePort) Status(uint port) => channels[port].State switch
    {
        ChannelState.Unbound => (EventChannelStatus.Unbound, channels[port].RemoteDomain, 0),
        ChannelState.Interdomain => (EventChannelStatus.Interdomain, channels[port].RemoteDomain, channels[port].RemotePort),
        ChannelState.Virq => (EventChannelStatus.Virq, 0, channels[port].Virq),
        ChannelState.Ipi => (EventChannelStatus.Ipi, 0, 0),
        _ => (EventChannelStatus.Closed, 0, 0),
    };

    /// <summary>evtchn_port_set_pending on one of our ports.</summary>
    private void Raise(uint port)
    {
        if (SharedInfo is { } si)
            si.SetPending(port);
        else if (!raisedBeforeAttach.Contains(port))
            raisedBeforeAttach.Add(port);
    }

    private long FreePort()
    {
        for (uint port = 1; port < channels.Length; port++)
        {
            if (channels[port].State != ChannelState.Free)
                continue;
            if (port >= validPorts)
                validPorts = Math.Min(validPorts + BucketSize, (uint)channels.Length);
            return port;
        }

        return -XenErrno.ENOSPC;
    }

    /// <summary>ECS_* (xen/include/xen/sched.h), the states this hypervisor implements.</summary>
    private enum ChannelState
    {
        Free,
        Reserved,
        Unbound,
        Interdomain,
        Virq,
        Ipi,
    }

    private struct Channel
    {
        public ChannelState State;
        public ushort RemoteDomain;
        public uint RemotePort;
        public bool Loopback;
        public uint Virq;
        public Action? Backend;
    }
}
