using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>What a hypercall handler may use of the calling domain.</summary>
public interface IHypercallContext
{
    GuestMemory Guest { get; }

    /// <summary>The hypervisor console (what <c>xl dmesg</c> would show for this domain).</summary>
    ConsoleLog HypervisorConsole { get; }

    /// <summary>True for a 64-bit caller (native ABI), false for a 32-bit one (compat ABI).</summary>
    bool Is64Bit { get; }

    bool IsHvm { get; }

    /// <summary>The domain's id, event channels, HVM params and console backend.</summary>
    DomainState Domain { get; }

    void Shutdown(ShutdownReason reason);

    /// <summary>SCHEDOP_shutdown_code: the reason recorded for a later shutdown.</summary>
    ShutdownReason? ShutdownCode { get; set; }
}
