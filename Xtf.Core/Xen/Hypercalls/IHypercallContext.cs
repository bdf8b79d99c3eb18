using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>What a hypercall handler may use of the calling domain.</summary>
public interface IHypercallContext
{
    /// <summary>copy_from_guest/copy_to_guest for hypercall arguments: guest linear addresses through the guest's paging; failures become -EFAULT.</summary>
    GuestMemory Guest { get; }

    /// <summary>The hypervisor console (what <c>xl dmesg</c> would show for this domain).</summary>
    ConsoleLog HypervisorConsole { get; }

    /// <summary>True for a 64-bit caller (native ABI), false for a 32-bit one (compat ABI).</summary>
    bool Is64Bit { get; }

    /// <summary>True for an HVM domain, false for PV (selects the PV-only hypercalls and HVM-only behaviour).</summary>
    bool IsHvm { get; }

    /// <summary>The domain's id, event channels, HVM params and console backend.</summary>
    DomainState Domain { get; }

    /// <summary>Shuts the domain down with <paramref name="reason"/> (SCHEDOP_shutdown, or a crash Xen decides); the first reason sticks and the vCPU stops at the next instruction boundary.</summary>
    void Shutdown(ShutdownReason reason);

    /// <summary>Preemption of long hypercalls on the calling vCPU: the check between units of work and the continuation.</summary>
    HypercallPreemption Preemption { get; }

    /// <summary>SCHEDOP_shutdown_code: the reason recorded for a later shutdown.</summary>
    ShutdownReason? ShutdownCode { get; set; }
}
