namespace Xtf.Core.Xen.Events;

/// <summary>EVTCHNOP_* commands of HYPERVISOR_event_channel_op (public/event_channel.h).</summary>
public static class EventChannelCommand
{
    public const int BindInterdomain = 0;
    public const int BindVirq = 1;
    public const int BindPirq = 2;
    public const int Close = 3;
    public const int Send = 4;
    public const int Status = 5;
    public const int AllocUnbound = 6;
    public const int BindIpi = 7;
    public const int BindVcpu = 8;
    public const int Unmask = 9;
    public const int Reset = 10;
}

/// <summary>evtchn_status.status values (EVTCHNSTAT_*, public/event_channel.h).</summary>
public enum EventChannelStatus : uint
{
    Closed = 0,
    Unbound = 1,
    Interdomain = 2,
    Pirq = 3,
    Virq = 4,
    Ipi = 5,
}

/// <summary>Domain identifiers (public/xen.h).</summary>
public static class DomainId
{
    /// <summary>The control domain: the toolstack and the console backend live there.</summary>
    public const ushort Dom0 = 0;

    /// <summary>The first guest the toolstack creates; the domain under test.</summary>
    public const ushort FirstGuest = 1;

    public const ushort Self = 0x7FF0;
}

/// <summary>VIRQ_* (public/xen.h): virtual interrupts a domain may bind to an event channel.</summary>
public static class Virq
{
    public const uint Timer = 0, Debug = 1, Console = 2, DomExc = 3, Tbuf = 4, Debugger = 6, Xenoprof = 7,
        ConRing = 8, PcpuState = 9, MemEvent = 10, Argo = 11, Enomem = 12, Xenpmu = 13;

    /// <summary>virq_is_global: every VIRQ but the per-vCPU ones (timer, debug, xenoprof, xenpmu) is global and binds on vCPU 0 only.</summary>
    public static bool IsGlobal(uint virq) => virq is not (Timer or Debug or Xenoprof or Xenpmu);
}
