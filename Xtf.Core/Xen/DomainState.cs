using Xtf.Core.Machine;
using Xtf.Core.Xen.Console;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.GrantTables;
using Xtf.Core.Xen.Xenstore;

namespace Xtf.Core.Xen;

/// <summary>
/// What the hypervisor and toolstack keep for a domain besides its vCPU: its id, event
/// channels, HVM params, and the PV console backend. Built as libxl's domain builder does.
/// </summary>
public sealed class DomainState
{
    /// <summary>HVM_NR_PARAMS (public/hvm/params.h).</summary>
    public const int HvmParamCount = 39;

    /// <summary>The backend's port in dom0 for our console channel (xenconsoled's local port).</summary>
    public const uint ConsoleBackendPort = 1;

    /// <summary>The backend's port in dom0 for our xenstore channel (xenstored's local port).</summary>
    public const uint StoreBackendPort = 2;

    private DomainState(ushort id, GrantTable grantTable)
    {
        Id = id;
        GrantTable = grantTable;
    }

    /// <summary>The domain id (<see cref="DomainId.FirstGuest"/>, 1).</summary>
    public ushort Id { get; }

    /// <summary>The domain's event-channel ports.</summary>
    public EventChannels EventChannels { get; } = new();

    /// <summary>d->arch.hvm.params.</summary>
    public ulong[] HvmParams { get; } = new ulong[HvmParamCount];

    /// <summary>The domain's grant table (d->grant_table).</summary>
    public GrantTable GrantTable { get; }

    /// <summary>The xenstore backend (xenstored's side of the xenstore page).</summary>
    public XenstoreBackend? Xenstore { get; private set; }

    /// <summary>LIBXL_MAXMEM_CONSTANT (libxl_internal.h, 1024 KiB): how far above its target libxl lets a domain grow (max_pages).</summary>
    public const ulong MaxMemSlackPages = 1024 / 4;

    /// <summary>d->tot_pages: the pages allocated to the domain (its start-of-day RAM, then what XENMEM ops add and remove).</summary>
    public ulong TotPages { get; set; }

    /// <summary>d->max_pages: the allocation limit (xc_domain_setmaxmem: the target plus <see cref="MaxMemSlackPages"/>).</summary>
    public ulong MaxPages { get; set; }

    /// <summary>
    /// alloc_domheap_pages' accounting (assign_pages): <paramref name="pages"/> more pages for the
    /// domain if that stays within max_pages ("Over-allocation" otherwise: no pages, false).
    /// </summary>
    public bool TryAllocatePages(ulong pages)
    {
        if (pages > MaxPages || TotPages > MaxPages - pages)
            return false;
        TotPages += pages;
        return true;
    }

    /// <summary>The PV console ring backend (xenconsoled's side of the console page).</summary>
    public ConsoleRing? Console { get; private set; }

    /// <summary>
    /// libxl's build for an HVM guest: the special pages (xenstore, console) at the top of RAM,
    /// zeroed; the xenstore and console channels bound to their backends (xenstored introduces
    /// the domain and binds its end), allocated in that order; the four params published.
    /// </summary>
    public static DomainState CreateHvm(PhysicalMemory memory)
    {
        ulong storeFrame = memory.FrameCount - 2, consoleFrame = memory.FrameCount - 1;
        var d = Create(memory, storeFrame, consoleFrame, new UnplacedGrantFrames(), out long storePort, out long consolePort);
        d.TotPages = memory.FrameCount;
        d.MaxPages = memory.FrameCount + MaxMemSlackPages;
        d.HvmParams[HvmParam.StorePfn] = storeFrame;
        d.HvmParams[HvmParam.StoreEvtchn] = (ulong)storePort;
        d.HvmParams[HvmParam.ConsolePfn] = consoleFrame;
        d.HvmParams[HvmParam.ConsoleEvtchn] = (ulong)consolePort;
        return d;
    }

    /// <summary>
    /// The same for a PV guest, whose builder chose the two frames; their mfns and ports go into
    /// start_info (<see cref="StorePort"/>, <see cref="Console"/>). Its grant-table pages come
    /// from <paramref name="grantFrames"/> (hypervisor frames shared with the guest).
    /// </summary>
    public static DomainState CreatePv(PhysicalMemory memory, ulong storeFrame, ulong consoleFrame, IGrantFrameSource grantFrames) =>
        Create(memory, storeFrame, consoleFrame, grantFrames, out _, out _);

    /// <summary>The xenstore event channel (bound to the xenstore backend).</summary>
    public uint StorePort { get; private set; }

    /// <summary>The console event channel (bound to the backend).</summary>
    public uint ConsolePort { get; private set; }

    private static DomainState Create(PhysicalMemory memory, ulong storeFrame, ulong consoleFrame, IGrantFrameSource grantFrames, out long storePort, out long consolePort)
    {
        var d = new DomainState(DomainId.FirstGuest, new GrantTable(memory, grantFrames));
        memory.Write(storeFrame << 12, new byte[PhysicalMemory.FrameSize]);
        memory.Write(consoleFrame << 12, new byte[PhysicalMemory.FrameSize]);
        var ring = new ConsoleRing(memory, consoleFrame);
        d.Console = ring;
        var store = new XenstoreBackend(memory, storeFrame, d.Id, d.EventChannels);
        d.Xenstore = store;
        storePort = d.EventChannels.BindToBackend(DomainId.Dom0, StoreBackendPort, store.Notify);
        store.Port = (uint)storePort;
        consolePort = d.EventChannels.BindToBackend(DomainId.Dom0, ConsoleBackendPort, ring.Notify);
        d.StorePort = (uint)storePort;
        d.ConsolePort = (uint)consolePort;
        return d;
    }

    /// <summary>
    /// rcu_lock_domain_by_any_id then the dummy XSM_TARGET check: DOMID_SELF or our own id is
    /// us; dom0 exists but an unprivileged caller may not act on it (-EPERM); any other id names
    /// no domain (-ESRCH).
    /// </summary>
    public int CheckTarget(ushort domid) =>
        domid == DomainId.Self || domid == Id ? 0
        : domid == DomainId.Dom0 ? -XenErrno.EPERM
        : -XenErrno.ESRCH;
}

/// <summary>HVM_PARAM_* indices (public/hvm/params.h).</summary>
public static class HvmParam
{
    /// <summary>HVM_PARAM_CALLBACK_IRQ: how event-channel upcalls are delivered to an HVM guest (GSI, PCI INTx or vector).</summary>
    public const int CallbackIrq = 0;
    /// <summary>HVM_PARAM_STORE_PFN: guest frame of the xenstore ring.</summary>
    public const int StorePfn = 1;
    /// <summary>HVM_PARAM_STORE_EVTCHN: the xenstore event-channel port.</summary>
    public const int StoreEvtchn = 2;
    /// <summary>HVM_PARAM_VIRIDIAN: the viridian feature mask (HVMPV_*), set once by the toolstack.</summary>
    public const int Viridian = 9;
    /// <summary>HVM_PARAM_CONSOLE_PFN: guest frame of the PV console ring (xencons_interface).</summary>
    public const int ConsolePfn = 17;
    /// <summary>HVM_PARAM_CONSOLE_EVTCHN: the PV console event-channel port.</summary>
    public const int ConsoleEvtchn = 18;
}
