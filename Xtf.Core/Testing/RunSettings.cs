using Xtf.Core.Xen;

namespace Xtf.Core.Testing;

/// <summary>How instances are run: limits and hypervisor options shared by every instance of a run.</summary>
public sealed record RunSettings
{
    /// <summary>Instructions an instance may retire before it ends as CRASH.</summary>
    public long InstructionBudget { get; init; } = 50_000_000;

    /// <summary>Instructions an upstream image may retire (<c>--xtf-dir</c>): its own tests run longer than ours (XSA-269's loop retires about 2.2e9).</summary>
    public long UpstreamInstructionBudget { get; init; } = 4_000_000_000;

    /// <summary>HVM upstream images: enter at e_entry with EBX = 0 (the firmware path, pre-PVH libxl) instead of XEN_ELFNOTE_PHYS32_ENTRY with hvm_start_info.</summary>
    public bool FirmwareEntry { get; init; }

    /// <summary>Guest RAM per instance.</summary>
    public ulong MemoryBytes { get; init; } = 128ul << 20;

    /// <summary>Wall-clock limit per instance; null for none.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// Host-time limit on one instance as a whole, the test's own C# included (which no guest
    /// limit can stop): an instance that has not come back by then is a CRASH and its thread is
    /// abandoned. Never less than <see cref="Timeout"/> plus <see cref="InstanceWatchdog.Margin"/>,
    /// so the guest's own limit ends a slow guest first; see <see cref="InstanceWatchdog.LimitOf"/>.
    /// </summary>
    public TimeSpan Watchdog { get; init; } = InstanceWatchdog.DefaultLimit;

    /// <summary>
    /// Once cancelled, every running instance ends at its next budget chunk (within a few ms of
    /// guest time) as CRASH <c>interrupted</c>: the runner cancels it when a SIGINT/SIGTERM's grace is over.
    /// </summary>
    public CancellationToken Interrupt { get; init; }

    /// <summary>Xen's <c>hvm_fep</c>: whether the forced emulation prefix reaches the emulator (on by default).</summary>
    public bool Fep { get; init; } = true;

    /// <summary>Whether the hypervisor offers __HYPERVISOR_set_hypercall_iopl (on by default).</summary>
    public bool UserHypercalls { get; init; } = true;

    /// <summary>Historical emulator bugs to re-create in every instance of the run.</summary>
    public IReadOnlySet<Quirk> Quirks { get; init; } = Xen.Quirks.None;

    /// <summary>Every domain is created with XEN_X86_MSR_RELAXED, as xl.cfg <c>msr_relaxed = 1</c> (off by default, as libxl's).</summary>
    public bool MsrRelaxed { get; init; }

    /// <summary>The hypervisor options every instance of the run gets.</summary>
    public HypervisorOptions Hypervisor => new() { Fep = Fep, Quirks = Quirks, UserHypercalls = UserHypercalls, MsrRelaxed = MsrRelaxed };
}

/// <summary>What running one instance produced. The result comes from the console log alone.</summary>
public sealed record InstanceOutcome(
    TestInstance Instance,
    TestResult Result,
    string ConsoleLog,
    IReadOnlyList<string> Lines,
    string? Diagnostic,
    long Instructions,
    TimeSpan Elapsed)
{
    /// <summary>What the hypervisor console (console_io) received; it should equal the debug-port log.</summary>
    public string HypervisorConsole { get; init; } = "";

    /// <summary>What the PV console backend read from the guest's ring; it should equal the debug-port log too.</summary>
    public string PvConsole { get; init; } = "";

    /// <summary>
    /// The host exception that ended the instance, in full (type, message and stack trace, as
    /// <see cref="Exception.ToString"/> gives it); null when none did. The diagnostic keeps only
    /// type and message; this is for the instance's log file, the JSON report and <c>-v</c>.
    /// </summary>
    public string? HostException { get; init; }
}
