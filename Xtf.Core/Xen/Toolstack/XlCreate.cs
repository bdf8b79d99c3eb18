using System.Globalization;
using Xtf.Core.Cpu;
using Xtf.Core.Machine;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Builder;
using Xtf.Core.Xen.Viridian;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>How the toolstack boots and bounds a domain (beyond what its cfg says).</summary>
public sealed record ToolstackOptions
{
    /// <summary>HVM: start at e_entry with EBX = 0 (the firmware path) instead of the PVH entry (libxl's default).</summary>
    public bool FirmwareEntry { get; init; }

    /// <summary>Instructions the guest may retire before the run is stopped.</summary>
    public long InstructionBudget { get; init; } = 4_000_000_000;

    /// <summary>Wall-clock limit, checked between budget chunks.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Once cancelled, the run ends between budget chunks as <c>interrupted</c>.</summary>
    public CancellationToken Interrupt { get; init; }

    /// <summary>The hypervisor's options: FEP, quirks, the user-hypercall extension.</summary>
    public HypervisorOptions Hypervisor { get; init; } = new();
}

/// <summary>How a domain ended.</summary>
/// <param name="Console">The PV console backend's log (what <c>xl console</c> shows and xtf-runner reads); empty if the guest never wrote its ring.</param>
/// <param name="HypervisorConsole">The console_io log (what <c>xl dmesg</c> shows).</param>
/// <param name="Notices">What the toolstack said before the guest ran: cfg keys this machine does not model.</param>
/// <param name="Reason">Why the machine stopped.</param>
/// <param name="Instructions">Instructions retired.</param>
public sealed record DomainExit(ConsoleLog Console, ConsoleLog HypervisorConsole, IReadOnlyList<string> Notices, string Reason, long Instructions);

/// <summary>
/// <c>xl create</c> then <c>xl console</c> for one upstream image: reads the cfg's domain
/// settings, builds the HVM or PV domain from the ELF image, runs its vCPU until the domain
/// shuts down (or crashes, faults or exceeds its budget), and hands back its consoles. Never
/// throws for a bad image or cfg: that is the exit's reason, with empty consoles.
/// </summary>
public static class XlCreate
{
    /// <summary>cfg keys read and modelled. <c>hap</c>/<c>shadow</c> select how Xen implements guest paging, which a guest cannot tell apart architecturally; <c>builder</c> and <c>loader</c> are legacy spellings xl ignores today; <c>on_reboot</c> only matters after a reboot, which ends the run here in any case; <c>viridian</c> is read for HVM domains only, as xl reads it (a PV domain ignores it); <c>msr_relaxed</c> sets XEN_X86_MSR_RELAXED (libxl: arch_x86.msr_relaxed), over the run's default.</summary>
    private static readonly HashSet<string> Modelled =
    [
        "name", "type", "builder", "loader", "memory", "kernel", "firmware_override", "cmdline", "extra",
        "vcpus", "hap", "shadow", "on_reboot", "on_poweroff", "on_crash", "viridian", "msr_relaxed"
    ];

    /// <summary>Boots <paramref name="image"/> as <paramref name="cfg"/> describes and runs it to its end.</summary>
    public static DomainExit Run(byte[] image, DomainConfig cfg, ToolstackOptions options)
    {
        var notices = new List<string>();
        foreach (string key in cfg.Keys.Where(k => !Modelled.Contains(k)))
            notices.Add($"xl: cfg '{key}' is not modelled by this machine; the domain is built without it");
        if (cfg.Number("vcpus") is > 1 and var n)
            notices.Add($"xl: cfg 'vcpus = {n}': this machine models one vCPU; the domain gets 1");

        Booted booted;
        try
        {
            booted = Build(image, cfg, options);
        }
        catch (Exception e) when (e is ElfFormatException or DomainBuildException)
        {
            return new DomainExit(new ConsoleLog(), new ConsoleLog(), notices, $"domain build failed: {e.Message}", 0);
        }

        string reason;
        try
        {
            reason = RunToEnd(booted, options);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            reason = $"host exception: {e.GetType().Name}: {e.Message}";
        }

        return new DomainExit(booted.Domain.Domain.Console?.Log ?? new ConsoleLog(), booted.Domain.HypervisorConsole, notices, reason, booted.Machine.Cpu.Retired);
    }

    private sealed record Booted(VirtualMachine Machine, IXenDomain Domain);

    private static Booted Build(byte[] image, DomainConfig cfg, ToolstackOptions toolstack)
    {
        var options = toolstack with { Hypervisor = toolstack.Hypervisor with { MsrRelaxed = cfg.Flag("msr_relaxed") ?? toolstack.Hypervisor.MsrRelaxed } };
        var elf = ElfImage.Parse(image);
        var notes = XenElfNotes.From(elf.Notes);
        string type = cfg.String("type") ?? (cfg.String("builder") == "hvm" ? "hvm" : "pv");
        long memoryMiB = cfg.Number("memory") ?? 128;
        if (memoryMiB is < 4 or > 4096)
            throw new DomainBuildException($"cfg 'memory = {memoryMiB}': between 4 and 4096 MiB are modelled");
        ulong ram = (ulong)memoryMiB << 20;
        string cmdline = string.Join(' ', new[] { cfg.String("cmdline"), cfg.String("extra") }.Where(s => !string.IsNullOrEmpty(s)));

        switch (type)
        {
            case "hvm":
                {
                    var viridian = ViridianGroups.FromConfig(cfg);
                    var machine = new VirtualMachine(new MachineOptions { MemoryBytes = ram, InstructionBudget = 0 });
                    var domain = new HvmDomain(machine, options.Hypervisor, hap: cfg.Flag("hap") ?? true);
                    // libxl's hvm_set_viridian_features sets HVM_PARAM_VIRIDIAN only for a non-zero mask.
                    if (viridian != ViridianFeatures.None && domain.SetViridian(viridian) is var rc and not 0)
                        throw new DomainBuildException($"libxl: Couldn't set viridian feature mask (0x{(ulong)viridian:x}): {rc}");
                    HvmBuilder.Build(machine, elf, notes, cmdline, pvh: !options.FirmwareEntry);
                    return new Booted(machine, domain);
                }

            case "pv":
                {
                    bool wide = PvBuilder.Is64Bit(elf, notes);
                    var machine = new VirtualMachine(new MachineOptions { MemoryBytes = ram + (XenFrames.Reserved * PhysicalMemory.FrameSize), InstructionBudget = 0 });
                    var domain = new PvDomain(machine, ram / PhysicalMemory.FrameSize, wide, options.Hypervisor);
                    PvBuilder.Build(domain, elf, notes, cmdline);
                    return new Booted(machine, domain);
                }

            default:
                throw new DomainBuildException(string.Create(CultureInfo.InvariantCulture, $"cfg 'type = \"{type}\"': only \"hvm\" and \"pv\" domains are modelled"));
        }
    }

    private static string RunToEnd(Booted booted, ToolstackOptions options) =>
        new VcpuRun(booted.Machine.Cpu, booted.Domain, options.InstructionBudget, options.Timeout, options.Interrupt).Run()
        ?? $"fetch at {booted.Machine.Cpu.StopLinearAddress:x8} in the host-gate range, which an upstream image has none of";
}
