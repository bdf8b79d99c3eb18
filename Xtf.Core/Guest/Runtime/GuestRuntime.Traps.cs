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
        ulong regsPointer = Cpu.ReadLogical(Xtf.Core.Cpu.X86Cpu.SS, Cpu.StackPointer + 4, 4);
        var regs = new ExceptionFrame(Cpu, regsPointer);
        bool safe = false;
        if (Extable.Search(regs.Eip) is { } entry)
        {
            if (entry.Handler is { } handler)
            {
                safe = handler(regs, entry);
            }
            else
            {
                regs.Eip = (uint)entry.Fixup;
                safe = true;
            }
        }

        if (!safe)
            safe = RecordForInnermostExec(regs);

        if (!safe)
            safe = test.UnhandledException(regs);

        if (!safe)
        {
            string where = $"Unhandled exception at {regs.Cs:x4}:{regs.Eip:x8}\nVec {regs.Vector} {regs.ExInfo}";
            if (regs.Vector == (int)Xtf.Core.Cpu.X86Vector.PF)
                where += $" %cr2 {Cpu.Cr2:x8}";
            Panic(where + "\n");
        }

        GateReturn();
    }
}
