using Xtf.Core.Guest.Image;
using Xtf.Core.Machine;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>
    /// XTF's vprintk: the text through vsnprintf_internal with LF_TO_CRLF (<see cref="Vsnprintf"/>:
    /// each LF becomes CRLF; xenconsoled does not translate), then the bytes go to each
    /// console of the environment, in XTF's registration order: the debug port (HVM) with
    /// <c>rep outsb</c>, then <c>console_io(CONSOLEIO_write)</c> once the hypercall page exists,
    /// then the PV console ring once <see cref="SetupPvConsole"/> has found it.
    /// Each write is x86 executed at the current CPL, so the log has the bytes before the next
    /// instruction retires.
    /// </summary>
    public void Printk(string text)
    {
        byte[] bytes = Vsnprintf.Format(text, Vsnprintf.LfToCrlf);
        for (int offset = 0; offset < bytes.Length; offset += HvmLayout.PrintkBufferSize)
        {
            int n = Math.Min(HvmLayout.PrintkBufferSize, bytes.Length - offset);
            WriteKernelBytes(HvmLayout.PrintkBuffer, bytes.AsSpan(offset, n));
            if (!IsPv)
                DebugPortWrite(HvmLayout.PrintkBuffer, n);
            if (HypercallsReady)
                _ = Hypercall(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, (ulong)n, HvmLayout.PrintkBuffer);
            if (PvConsoleReady)
                PvConsoleWrite(bytes.AsSpan(offset, n));
        }
    }

    /// <summary>The HVM debug-port console: <c>rep outsb</c> of the buffer to port 0xE9.</summary>
    private void DebugPortWrite(ulong buffer, int length) =>
        Exec(a =>
        {
            a.mov(esi, (uint)buffer);
            a.mov(ecx, (uint)length);
            a.mov(edx, (uint)DebugConsole.BochsPort);
            a.rep.outsb();
        }, ExecFaults.Unhandled);
}
