namespace Xtf.Core.Xen;

/// <summary>How the hypervisor behaves for one domain: its command-line options and quirks.</summary>
public sealed record HypervisorOptions
{
    /// <summary>
    /// Xen's <c>hvm_fep</c>: the forced emulation prefix (<c>ud2; .ascii "xen"</c>) sends the next
    /// instruction through the emulator. Off, the prefix raises #UD as on a production hypervisor.
    /// </summary>
    public bool Fep { get; init; } = true;

    /// <summary>
    /// Our extension __HYPERVISOR_set_hypercall_iopl (DESIGN.md section 5). Off, hypercall 50 is
    /// unknown (-ENOSYS) and hypercalls stay kernel-only, as on Xen.
    /// </summary>
    public bool UserHypercalls { get; init; } = true;

    /// <summary>Historical bugs re-created in the emulator path.</summary>
    public IReadOnlySet<Quirk> Quirks { get; init; } = Xen.Quirks.None;

    /// <summary>True when <paramref name="quirk"/> is enabled for the domain.</summary>
    public bool Has(Quirk quirk) => Quirks.Contains(quirk);
}
