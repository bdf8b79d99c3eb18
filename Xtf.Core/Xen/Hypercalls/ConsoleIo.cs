namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_console_io(cmd, count, buffer) (public/xen.h, xen/drivers/char/console.c).
/// CONSOLEIO_write copies <c>count</c> bytes from the guest into the hypervisor console;
/// CONSOLEIO_read has no input to offer and returns 0 bytes.
/// </summary>
internal static class ConsoleIo
{
    /// <summary>guest_console_write's kbuf is 128 bytes, one kept for the terminator: 127 bytes per copy.</summary>
    private const uint Chunk = 127;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        int cmd = (int)a.A1;
        uint count = (uint)a.A2;
        ulong buffer = a.A3;
        switch (cmd)
        {
            case ConsoleIoCommand.Write:
                return Write(ctx, count, buffer);
            case ConsoleIoCommand.Read:
                return 0;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>
    /// guest_console_write: the buffer goes to the console 127 bytes at a time; a copy that faults
    /// ends the call with -EFAULT after the chunks before it were written; between chunks the
    /// call may be preempted, continuing with the rest (CONSOLEIO_write, count left, buffer advanced).
    /// </summary>
    private static long Write(IHypercallContext ctx, uint count, ulong buffer)
    {
        Span<byte> chunk = stackalloc byte[(int)Chunk];
        bool first = true;
        while (count > 0)
        {
            if (!first && ctx.Preemption.Check())
                return ctx.Preemption.CreateContinuation(HypercallNumber.ConsoleIo, (ulong)ConsoleIoCommand.Write, count, buffer);
            first = false;
            uint n = Math.Min(count, Chunk);
            if (!ctx.Guest.TryRead(ctx.Is64Bit ? buffer : buffer & 0xFFFF_FFFF, chunk[..(int)n]))
                return -XenErrno.EFAULT;
            ctx.HypervisorConsole.Append(chunk[..(int)n]);
            count -= n;
            buffer += n;
        }

        return 0;
    }
}
