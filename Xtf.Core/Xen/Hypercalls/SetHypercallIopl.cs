namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// The hypercall privilege of one vCPU (our extension, DESIGN.md section 5): hypercalls are
/// accepted from guest CPL &lt;= <see cref="Iopl"/>. Only the guest kernel may change it; what
/// "kernel" means is the domain's (HVM: CPL 0; PV: the vCPU's kernel mode).
/// </summary>
public sealed class HypercallPrivilege(bool enabled, Func<bool> callerIsKernel)
{
    /// <summary>Whether the extension exists at all (<see cref="HypervisorOptions.UserHypercalls"/>).</summary>
    public bool Enabled { get; } = enabled;

    /// <summary>The hypercall iopl, 0..3; 0 at domain creation (Xen's rule: kernel only).</summary>
    public int Iopl
    {
        get;
        internal set
        {
            field = value;
            Changed?.Invoke();
        }
    }

    /// <summary>Raised when the kernel changes <see cref="Iopl"/> (a PV domain rewrites its hypercall page).</summary>
    public event Action? Changed;

    /// <summary>True when the current caller is the guest kernel.</summary>
    public bool CallerIsKernel => callerIsKernel();

    /// <summary>Whether a hypercall from <paramref name="cpl"/> is accepted.</summary>
    public bool Admits(int cpl) => cpl <= Iopl;
}

/// <summary>A domain that carries hypercall privilege state.</summary>
public interface IHypercallPrivilegeContext
{
    /// <summary>The vCPU's hypercall iopl: which CPLs may issue hypercalls (set by __HYPERVISOR_set_hypercall_iopl).</summary>
    HypercallPrivilege HypercallPrivilege { get; }
}

/// <summary>
/// __HYPERVISOR_set_hypercall_iopl(iopl) = 50, the spare x86 arch_2 slot (DESIGN.md section 5;
/// seed: XTF's "RFC Userspace hypercalls" mail). Checks in order: the extension exists (else
/// -ENOSYS, as for any unknown hypercall), the caller is the guest kernel (else -EPERM),
/// <c>unsigned int iopl</c> is 0..3 (else -EINVAL); then the vCPU's hypercall iopl is set.
/// </summary>
internal static class SetHypercallIopl
{
    public const int MaxIopl = 3;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        if (ctx is not IHypercallPrivilegeContext { HypercallPrivilege: { Enabled: true } privilege })
            return -XenErrno.ENOSYS;
        if (!privilege.CallerIsKernel)
            return -XenErrno.EPERM;
        uint iopl = (uint)a.A1;
        if (iopl > MaxIopl)
            return -XenErrno.EINVAL;
        privilege.Iopl = (int)iopl;
        return 0;
    }
}
