namespace Xtf.Core.Xen.Hypercalls;

/// <summary>The hypercall table: number to handler; an unknown number returns -ENOSYS.</summary>
public static class HypercallTable
{
    /// <summary>Runs hypercall <paramref name="number"/> for <paramref name="ctx"/> and returns what Xen puts in RAX: 0 or a positive value on success, a negated <see cref="XenErrno"/> on failure; an unknown or unavailable hypercall returns -ENOSYS. PV domains fall through to the PV-only hypercalls.</summary>
    public static long Dispatch(IHypercallContext ctx, int number, HypercallArgs args) => number switch
    {
        HypercallNumber.ConsoleIo => ConsoleIo.Call(ctx, args),
        HypercallNumber.SchedOp => SchedOp.Call(ctx, args),
        HypercallNumber.XenVersion => XenVersion.Call(ctx, args),
        HypercallNumber.EventChannelOp => EventChannelOp.Call(ctx, args),
        HypercallNumber.HvmOp => HvmOp.Call(ctx, args),
        HypercallNumber.SetHypercallIopl => SetHypercallIopl.Call(ctx, args),
        HypercallNumber.Multicall => Multicall.Call(ctx, args),
        HypercallNumber.MemoryOp => MemoryOp.Call(ctx, args),
        HypercallNumber.GrantTableOp => GrantTables.GrantTableOp.Call(ctx, args),
        HypercallNumber.Sysctl => Sysctl.Call(ctx, args),
        HypercallNumber.VcpuOp => VcpuOp.Call(ctx, args),
        HypercallNumber.VmAssist when ctx.IsHvm => VmAssist.Call(ctx, args),
        _ when ctx is Pv.PvDomain pv => Pv.PvHypercalls.Dispatch(pv, number, args),
        _ => -XenErrno.ENOSYS,
    };
}
