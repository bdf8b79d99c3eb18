using Xtf.Core.Xen;

namespace Xtf.Core.Guest;

/// <summary>How to boot one guest: environment, title, variation, and the limits of the run.</summary>
public sealed record GuestConfig
{
    /// <summary>The single environment to boot (one flag of <see cref="Environments"/>).</summary>
    public Environments Environment { get; init; } = Environments.Hvm32;

    /// <summary>The test's title, printed as the third banner line after <c>Environment:</c> (XTF's test_title).</summary>
    public string Title { get; init; } = "";

    /// <summary>The variation (xtf-runner's <c>test-ENV-NAME~VARIATION</c>), exposed to the test; in PV environments also the start_info command line. Null for none.</summary>
    public string? Variation { get; init; }

    /// <summary>Guest instructions the run may retire before the machine is stopped; a guest stopped this way has printed no result line, so the runner reports CRASH.</summary>
    public long InstructionBudget { get; init; } = 50_000_000;

    /// <summary>Guest RAM in bytes (a multiple of 4 KiB); PV domains get Xen's reserved frames on top.</summary>
    public ulong MemoryBytes { get; init; } = 128ul << 20;

    /// <summary>Host wall-clock limit on the run, checked between budget chunks; null for none.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Once cancelled, the run ends between budget chunks as CRASH <c>interrupted</c> (the runner's SIGINT/SIGTERM).</summary>
    public CancellationToken Interrupt { get; init; }

    /// <summary>Receives every byte of the console the result is read from, as it arrives, for a reader on another thread (the instance watchdog); null for none.</summary>
    public Machine.ConsoleMirror? ConsoleMirror { get; init; }

    /// <summary>The hypervisor's options for the domain: FEP and quirks.</summary>
    public HypervisorOptions Hypervisor { get; init; } = new();

    /// <summary>
    /// xl.cfg lines the toolstack applies to the domain (upstream's extra.cfg.in). Honoured:
    /// <c>viridian</c> for HVM domains (<see cref="Xen.Toolstack.ViridianGroups"/>, ignored for PV
    /// as libxl ignores HVM-only keys there). Any other key is refused at boot (a CRASH), not ignored.
    /// </summary>
    public string ExtraConfig { get; init; } = "";
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

    /// <summary>The host exception that ended the guest, in full (<see cref="Exception.ToString"/>: type, message, stack trace, inner exceptions); null when none did. <see cref="Reason"/> keeps its type and message.</summary>
    public string? HostException { get; init; }
}
