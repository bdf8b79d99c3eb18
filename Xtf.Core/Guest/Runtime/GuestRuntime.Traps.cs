namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>
    /// The do_exception gate (XTF arch/x86/traps.c): look the faulting IP up in the exception
    /// table (fixup, or the entry's handler), then ask the test's unhandled-exception hook, then
    /// panic with XTF's message.
    /// </summary>
    private void DoException()
    {
        // The argument: on the stack above the return address (i386 cdecl), or in RDI (SysV x86-64).
        ulong regsPointer = Bitness == 64
            ? Cpu[Xtf.Core.Cpu.X86Cpu.RDI]
            : Cpu.ReadLogical(Xtf.Core.Cpu.X86Cpu.SS, Cpu.StackPointer + 4, 4);
        var regs = new ExceptionFrame(Cpu, regsPointer, longMode: Bitness == 64);
        test.LogException(regs);
        bool safe = false;
        if (Extable.Search(regs.Rip) is { } entry)
        {
            if (entry.Handler is { } handler)
            {
                safe = handler(regs, entry);
            }
            else
            {
                regs.Rip = entry.Fixup;
                safe = true;
            }
        }

        if (!safe)
            safe = RecordForInnermostExec(regs);

        if (!safe)
            safe = test.UnhandledException(regs);

        if (!safe)
        {
            // XTF prints pointers (%p) zero-padded to the pointer's width.
            string pointer = Bitness == 64 ? "x16" : "x8";
            string where = $"Unhandled exception at {regs.Cs:x4}:{regs.Rip.ToString(pointer, System.Globalization.CultureInfo.InvariantCulture)}\nVec {regs.Vector} {regs.ExInfo}";
            if (regs.Vector == (int)Xtf.Core.Cpu.X86Vector.PF)
                where += $" %cr2 {Cpu.Cr2.ToString(pointer, System.Globalization.CultureInfo.InvariantCulture)}";
            Panic(where + "\n");
        }

        GateReturn();
    }
}
