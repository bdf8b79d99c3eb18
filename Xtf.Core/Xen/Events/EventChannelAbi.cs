namespace Xtf.Core.Xen.Events;

/// <summary>EVTCHNOP_* commands of HYPERVISOR_event_channel_op (public/event_channel.h).</summary>
public static class EventChannelCommand
{
    /// <summary>EVTCHNOP_bind_interdomain: connects a local port to another domain's unbound port (evtchn_bind_interdomain).</summary>
    public const int BindInterdomain = 0;
    /// <summary>EVTCHNOP_bind_virq: binds a VIRQ_* to a new port on a vCPU (evtchn_bind_virq).</summary>
    public const int BindVirq = 1;
    /// <summary>EVTCHNOP_bind_pirq: binds a physical IRQ (evtchn_bind_pirq).</summary>
    public const int BindPirq = 2;
    /// <summary>EVTCHNOP_close: closes a port (evtchn_close).</summary>
    public const int Close = 3;
    /// <summary>EVTCHNOP_send: signals the remote end of a port (evtchn_send).</summary>
    public const int Send = 4;
    /// <summary>EVTCHNOP_status: reports a port's binding (evtchn_status, <see cref="EventChannelStatus"/>).</summary>
    public const int Status = 5;
    /// <summary>EVTCHNOP_alloc_unbound: allocates a port for a remote domain to bind to (evtchn_alloc_unbound).</summary>
    public const int AllocUnbound = 6;
    /// <summary>EVTCHNOP_bind_ipi: allocates an inter-vCPU notification port (evtchn_bind_ipi).</summary>
    public const int BindIpi = 7;
    /// <summary>EVTCHNOP_bind_vcpu: changes the vCPU a port notifies (evtchn_bind_vcpu).</summary>
    public const int BindVcpu = 8;
    /// <summary>EVTCHNOP_unmask: clears a port's mask bit and re-raises the upcall if it is pending (evtchn_unmask).</summary>
    public const int Unmask = 9;
    /// <summary>EVTCHNOP_reset: closes all of a domain's ports (evtchn_reset).</summary>
    public const int Reset = 10;
    /// <summary>EVTCHNOP_init_control: registers a vCPU's FIFO control block (struct evtchn_init_control).</summary>
    public const int InitControl = 11;
    /// <summary>EVTCHNOP_expand_array: adds a page to the FIFO event array (struct evtchn_expand_array).</summary>
    public const int ExpandArray = 12;
    /// <summary>EVTCHNOP_set_priority: a port's FIFO queue priority (struct evtchn_set_priority).</summary>
    public const int SetPriority = 13;
}

/// <summary>evtchn_status.status values (EVTCHNSTAT_*, public/event_channel.h).</summary>
public enum EventChannelStatus : uint
{
    /// <summary>EVTCHNSTAT_closed: the port is not in use.</summary>
    Closed = 0,
    /// <summary>EVTCHNSTAT_unbound: allocated, waiting for a remote domain to bind.</summary>
    Unbound = 1,
    /// <summary>EVTCHNSTAT_interdomain: connected to a port of another domain.</summary>
    Interdomain = 2,
    /// <summary>EVTCHNSTAT_pirq: bound to a physical IRQ.</summary>
    Pirq = 3,
    /// <summary>EVTCHNSTAT_virq: bound to a virtual IRQ.</summary>
    Virq = 4,
    /// <summary>EVTCHNSTAT_ipi: an inter-vCPU port.</summary>
    Ipi = 5,
}

/// <summary>Domain identifiers (public/xen.h).</summary>
public static class DomainId
{
    /// <summary>The control domain: the toolstack and the console backend live there.</summary>
    public const ushort Dom0 = 0;

    /// <summary>The first guest the toolstack creates; the domain under test.</summary>
    public const ushort FirstGuest = 1;

    /// <summary>DOMID_SELF (0x7FF0): the calling domain.</summary>
    public const ushort Self = 0x7FF0;
}

/// <summary>VIRQ_* (public/xen.h): virtual interrupts a domain may bind to an event channel.</summary>
public static class Virq
{
    /// <summary>VIRQ_TIMER 0 (per vCPU), VIRQ_DEBUG 1 (per vCPU), VIRQ_CONSOLE 2, VIRQ_DOM_EXC 3, VIRQ_TBUF 4, VIRQ_DEBUGGER 6, VIRQ_XENOPROF 7 (per vCPU), VIRQ_CON_RING 8, VIRQ_PCPU_STATE 9, VIRQ_MEM_EVENT 10, VIRQ_ARGO 11, VIRQ_ENOMEM 12, VIRQ_XENPMU 13 (per vCPU).</summary>
    public const uint Timer = 0, Debug = 1, Console = 2, DomExc = 3, Tbuf = 4, Debugger = 6, Xenoprof = 7,
        ConRing = 8, PcpuState = 9, MemEvent = 10, Argo = 11, Enomem = 12, Xenpmu = 13;

    /// <summary>virq_is_global: every VIRQ but the per-vCPU ones (timer, debug, xenoprof, xenpmu) is global and binds on vCPU 0 only.</summary>
    public static bool IsGlobal(uint virq) => virq is not (Timer or Debug or Xenoprof or Xenpmu);
}
