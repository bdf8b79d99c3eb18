namespace Xtf.Core.Xen.Hypercalls;

/// <summary>HYPERVISOR_sched_op(cmd, arg) (public/sched.h, xen/common/sched/core.c do_sched_op).</summary>
internal static class SchedOp
{
    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        int cmd = (int)a.A1;
        switch (cmd)
        {
            case SchedOpCommand.Yield:
            case SchedOpCommand.Block:
                // One vCPU and no timers: yielding and blocking return at once.
                return 0;
            case SchedOpCommand.Shutdown:
            case SchedOpCommand.ShutdownCode:
                {
                    // struct sched_shutdown { unsigned int reason; }
                    if (!ctx.Guest.TryReadUInt32(a.A2, out uint reason))
                        return -XenErrno.EFAULT;
                    if (reason > (uint)ShutdownReason.SoftReset)
                        return -XenErrno.EINVAL;
                    if (cmd == SchedOpCommand.ShutdownCode)
                    {
                        ctx.ShutdownCode = (ShutdownReason)reason;
                        return 0;
                    }

                    ctx.Shutdown((ShutdownReason)reason);
                    return 0;
                }

            default:
                return -XenErrno.ENOSYS;
        }
    }
}
