namespace Xtf.Core.Xen.Events;

/// <summary>
/// One domain's event-channel table (xen/common/event_channel.c, 2-level ABI): ports are
/// allocated in buckets, port 0 is reserved, and a port is "valid" once its bucket exists
/// (port_is_valid). A port is free, unbound (waiting for a remote domain), or interdomain-bound.
/// The hypervisor's own backends (the console) sit at the remote end of an interdomain channel,
/// as xenconsoled does in dom0, and are notified synchronously by EVTCHNOP_send.
/// </summary>
public sealed class EventChannels
{
    /// <summary>Ports per bucket: a page of 64-byte struct evtchn (EVTCHNS_PER_BUCKET).</summary>
    public const uint BucketSize = 64;

    /// <summary>libxl's default max_event_channels is 1023: ports 0..1023.</summary>
    public const uint DefaultMaxPorts = 1024;

    private readonly Channel[] channels;
    private uint validPorts;

    public EventChannels(uint maxPorts = DefaultMaxPorts)
    {
        channels = new Channel[maxPorts];
        // evtchn_init: bucket 0 exists from creation and port 0 is never handed out.
        validPorts = Math.Min(BucketSize, maxPorts);
        channels[0].State = ChannelState.Reserved;
    }

    /// <summary>port_is_valid: below the allocated buckets.</summary>
    public bool IsValid(uint port) => port < validPorts;

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
    /// evtchn_send: an invalid port, or one not bound to anything, is -EINVAL; an unbound port
    /// drops the notification silently; an interdomain port notifies the remote end.
    /// </summary>
    public long Send(uint port)
    {
        if (!IsValid(port))
            return -XenErrno.EINVAL;
        switch (channels[port].State)
        {
            case ChannelState.Unbound:
                return 0;
            case ChannelState.Interdomain:
                channels[port].Backend?.Invoke();
                return 0;
            default:
                return -XenErrno.EINVAL;
        }
    }

    /// <summary>evtchn_close: an invalid, free or reserved port is -EINVAL (so a second close is too).</summary>
    public long Close(uint port)
    {
        if (!IsValid(port))
            return -XenErrno.EINVAL;
        if (channels[port].State is ChannelState.Free or ChannelState.Reserved)
            return -XenErrno.EINVAL;
        channels[port] = default;
        return 0;
    }

    /// <summary>evtchn_status for a valid port: free and reserved ports read as closed.</summary>
    public (EventChannelStatus Status, ushort RemoteDomain, uint RemotePort) Status(uint port) => channels[port].State switch
    {
        ChannelState.Unbound => (EventChannelStatus.Unbound, channels[port].RemoteDomain, 0),
        ChannelState.Interdomain => (EventChannelStatus.Interdomain, channels[port].RemoteDomain, channels[port].RemotePort),
        _ => (EventChannelStatus.Closed, 0, 0),
    };

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
    }

    private struct Channel
    {
        public ChannelState State;
        public ushort RemoteDomain;
        public uint RemotePort;
        public Action? Backend;
    }
}
