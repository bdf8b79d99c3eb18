namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_console_io(cmd, count, buffer) (public/xen.h, xen/drivers/char/console.c).
/// CONSOLEIO_write copies <c>count</c> bytes from the guest into the hypervisor console;
/// CONSOLEIO_read has no input to offer and returns 0 bytes.
/// </summary>
internal static class ConsoleIo
{
    /// <summary>Xen copies guest console writes in chunks; we cap one call's copy to keep a bad count bounded.</summary>
    private const ulong MaxWrite = 1 << 20;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        int cmd = (int)a.A1;
        ulong count = (uint)a.A2;
        ulong buffer = a.A3;
        switch (cmd)
        {
            case ConsoleIoCommand.Write:
                if (count > MaxWrite)
                    return -XenErrno.EINVAL;
                var data = new byte[count];
                if (!ctx.Guest.TryRead(buffer, data))
                    return -XenErrno.EFAULT;
                ctx.HypervisorConsole.Append(data);
                return 0;
            case ConsoleIoCommand.Read:
                return 0;
            default:
                return -XenErrno.ENOSYS;
        }
    }
}
