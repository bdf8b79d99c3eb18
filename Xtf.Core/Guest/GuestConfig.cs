using Xtf.Core.Xen;

namespace Xtf.Core.Guest;

/// <summary>How to boot one guest: environment, title, variation, and the limits of the run.</summary>
public sealed record GuestConfig
{
    public Environments Environment { get; init; } = Environments.Hvm32;

    public string Title { get; init; } = "";

    public string? Variation { get; init; }

    public long InstructionBudget { get; init; } = 50_000_000;

    public ulong MemoryBytes { get; init; } = 128ul << 20;

    public TimeSpan? Timeout { get; init; }

    /// <summary>The hypervisor's options for the domain: FEP and quirks.</summary>
    public HypervisorOptions Hypervisor { get; init; } = new();
}

/// <summary>How a guest ended: what its consoles received, and why the machine stopped.</summary>
public sealed record GuestExit(
    string ConsoleText,
    IReadOnlyList<string> Lines,
    string HypervisorConsoleText,
    string Reason,
    long Instructions)
{
    /// <summary>What the PV console backend read from the guest's <c>xencons_interface</c> ring.</summary>
    public string PvConsoleText { get; init; } = "";
}
