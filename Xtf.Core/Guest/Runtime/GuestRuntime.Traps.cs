using System.Globalization;
using Xtf.Core.Cpu;

namespace Xtf.Core.Guest.Runtime;

/// <summary>XTF's xtf_unhandled_exception_hook: returns true once it has made the exception safe to return from.</summary>
public delegate bool UnhandledExceptionHook(ExceptionFrame regs);

public sealed partial class GuestRuntime
{
    /// <summary>XTF's exception log (xtf_exlog_*).</summary>
    public ExceptionLog ExceptionLog { get; } = new();

    /// <summary>XTF's xtf_unhandled_exception_hook: asked before the test's <see cref="TestCase.UnhandledException"/>.</summary>
    public UnhandledExceptionHook? UnhandledExceptionHook { get; set; }

    /// <summary>XTF prints pointers (%p) zero-padded to the pointer's width.</summary>
    private string Pointer(ulong value) => value.ToString(Bitness == 64 ? "x16" : "x8", CultureInfo.InvariantCulture);

    /// <summary>
    /// The do_exception gate (XTF arch/x86/traps.c): log the exception (xtf_exlog_log_exception),
    /// look the instruction pointer up in the exception table (fixup, or the entry's handler),
    /// then an enclosing recording Exec, then the unhandled-exception hook and the test's
    /// override, then panic with XTF's message.
    /// </summary>
    private void DoException()
    {
        // The argument: on the stack above the return address (i386 cdecl, read as 4(%esp), which
        // wraps with the stack-address size), or in RDI (SysV x86-64).
        ulong regsPointer = Bitness == 64
            ? Cpu[X86Cpu.RDI]
            : Cpu.PeekStack(4, 4);
        var regs = new ExceptionFrame(Cpu, regsPointer, longMode: Bitness == 64);
        if (!ExceptionLog.Log(new ExlogEntry(regs.Rip, regs.Cs, regs.ErrorCode, regs.Vector)))
        {
            Printk("Exception log full\n" + ExceptionLog.Dump(Bitness / 4));
            Panic("Exception log full\n");
        }

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

        if (!safe && UnhandledExceptionHook is { } hook)
            safe = hook(regs);

        if (!safe)
            safe = test.UnhandledException(regs);

        if (!safe)
        {
            string where = $"Unhandled exception at {regs.Cs:x4}:{Pointer(regs.Rip)}\nVec {regs.Vector} {regs.ExInfo}";
            if (regs.Vector == (int)X86Vector.PF)
                where += $" %cr2 {Pointer(Cpu.Cr2)}";
            Panic(where + "\n");
        }

        GateReturn();
    }
}
