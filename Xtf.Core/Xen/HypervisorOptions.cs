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

    /// <summary>
    /// The domain's XEN_X86_MSR_RELAXED (xl.cfg <c>msr_relaxed</c>, off by default since Xen 4.15):
    /// an MSR Xen does not implement for the guest, but the hardware has, reads as 0 and ignores
    /// writes instead of #GP(0) (pv/emul-priv-op.c read_msr/write_msr, vmx.c msr intercepts:
    /// <c>msr_relaxed &amp;&amp; !rdmsr_safe(...)</c>).
    /// </summary>
    public bool MsrRelaxed { get; init; }

    /// <summary>Historical bugs re-created in the emulator path.</summary>
    public IReadOnlySet<Quirk> Quirks { get; init; } = Xen.Quirks.None;

    /// <summary>True when <paramref name="quirk"/> is enabled for the domain.</summary>
    public bool Has(Quirk quirk) => Quirks.Contains(quirk);
}
