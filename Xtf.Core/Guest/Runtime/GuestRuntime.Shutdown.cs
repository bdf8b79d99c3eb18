using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest.Image;
using Xtf.Core.Xen;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    private bool panicking;

    /// <summary>
    /// SCHEDOP_shutdown with the reason in a struct sched_shutdown in guest memory. On success the
    /// domain is gone and the host side unwinds; if the hypercall returns, its result is returned.
    /// </summary>
    public long Shutdown(ShutdownReason reason)
    {
        WriteKernelBytes(HvmLayout.Scratch, BitConverter.GetBytes((uint)reason));
        return Hypercall(HypercallNumber.SchedOp, SchedOpCommand.Shutdown, HvmLayout.Scratch);
    }

    /// <summary>
    /// XTF's panic(): the message between two lines of asterisks, then SHUTDOWN_crash, then
    /// arch_crash_hard (cli; hlt). Never returns.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Panic(string message)
    {
        if (panicking)
            throw new GuestStoppedException("panic while panicking: " + message.TrimEnd());
        panicking = true;
        try
        {
            const string Stars = "******************************\n";
            Printk(Stars + "PANIC: " + message + Stars);
            if (HypercallsReady)
                _ = Shutdown(ShutdownReason.Crash);
        }
        catch (CpuFault fault)
        {
            // The panic's own console writes or shutdown faulted (a guest whose paging no longer
            // maps its console ring or buffers): XTF's panic would take that fault inside panic and
            // die there. The domain is dead either way: a CRASH naming both.
            throw new GuestStoppedException($"panic: {message.TrimEnd()} (and the panic's own output faulted: {fault.Message})");
        }

        if (IsPv)
            CrashHardPv();
        Exec(a =>
        {
            a.cli();
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.hlt();
            a.jmp(spin);
        }, ExecFaults.Unhandled);
        throw new GuestStoppedException("panic returned from arch_crash_hard");
    }
}
