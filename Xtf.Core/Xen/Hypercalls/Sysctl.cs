using System.Buffers.Binary;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_sysctl(struct xen_sysctl *) (public/sysctl.h, xen/common/sysctl.c do_sysctl).
/// struct xen_sysctl { uint32_t cmd; uint32_t interface_version; union { ...; uint8_t pad[128]; } u; }
/// is 136 bytes for native and compat callers alike (its members use uint64_aligned_t). Xen
/// copies it in (-EFAULT), refuses any interface version but its own (-EACCES), then asks XSM:
/// every sysctl is XSM_PRIV, and under the dummy policy (xen/include/xsm/dummy.h,
/// xsm_default_action) only the control domain passes; a guest domain gets -EPERM before any
/// command is looked at, so no sub-operation (livepatch or other) is reachable from here.
/// </summary>
internal static class Sysctl
{
    /// <summary>XEN_SYSCTL_INTERFACE_VERSION of the Xen we report (4.19, <see cref="XenVersion"/>): 0x15 in RELEASE-4.19.0 public/sysctl.h (0x16 from 4.21).</summary>
    public const uint InterfaceVersion = 0x15;

    /// <summary>sizeof(struct xen_sysctl): cmd, interface_version, the 128-byte union.</summary>
    public const int Size = 136;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        var op = new byte[Size];
        if (!ctx.Guest.TryRead(a.A1, op))
            return -XenErrno.EFAULT;
        if (BinaryPrimitives.ReadUInt32LittleEndian(op.AsSpan(4)) != InterfaceVersion)
            return -XenErrno.EACCES;
        // xsm_sysctl(XSM_PRIV): is_control_domain(current->domain) fails for every guest domain.
        return -XenErrno.EPERM;
    }
}
