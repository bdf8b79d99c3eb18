namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_vcpu_op(cmd, vcpuid, extra_args) (public/vcpu.h, xen/common/domain.c do_vcpu_op).
/// The domain has one vCPU (vCPU 0, initialised and up since the builder started it). Xen looks
/// the vCPU up before anything else: domain_vcpu() of a vCPU the domain does not have is
/// -ENOENT, whatever the command. On vCPU 0: VCPUOP_initialise finds it initialised (-EEXIST,
/// arch_initialise_vcpu under the domain lock), VCPUOP_up on an initialised vCPU that is not
/// down succeeds, VCPUOP_is_up is 1. The timer, runstate and vcpu_info registration commands are
/// not modelled yet (several vCPUs and time are issue "platform"), and answer -ENOSYS, as Xen
/// answers a command it does not know.
/// </summary>
internal static class VcpuOp
{
    /// <summary>VCPUOP_initialise, VCPUOP_up, VCPUOP_down, VCPUOP_is_up (public/vcpu.h).</summary>
    public const int Initialise = 0, Up = 1, Down = 2, IsUp = 3;

    /// <summary>The vCPUs a domain has here (d->max_vcpus).</summary>
    public const uint VcpuCount = 1;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        _ = ctx;
        int cmd = (int)a.A1;
        uint vcpuid = (uint)a.A2;
        if (vcpuid >= VcpuCount)
            return -XenErrno.ENOENT;
        return cmd switch
        {
            Initialise => -XenErrno.EEXIST,
            Up => 0,
            IsUp => 1,
            _ => -XenErrno.ENOSYS,
        };
    }
}
