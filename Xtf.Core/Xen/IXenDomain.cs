using Xtf.Core.Machine;

namespace Xtf.Core.Xen;

/// <summary>What the guest runtime and the run engine see of a domain, HVM or PV.</summary>
public interface IXenDomain
{
    /// <summary>The hypervisor's configuration for this domain: FEP, the user-hypercall extension, quirks.</summary>
    HypervisorOptions Options { get; }

    /// <summary>The hypervisor's log for the domain (console_io output, crash reasons).</summary>
    ConsoleLog HypervisorConsole { get; }

    /// <summary>Event channels, the console backend, HVM params.</summary>
    DomainState Domain { get; }

    /// <summary>Set once the domain has shut down.</summary>
    ShutdownReason? ShutdownState { get; }
}
