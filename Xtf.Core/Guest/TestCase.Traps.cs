using Iced.Intel;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;

namespace Xtf.Core.Guest;

/// <summary>XTF's exception machinery for tests: the exception log, the unhandled-exception hook, inline asm with extable entries, IDT entries.</summary>
public abstract partial class TestCase
{
    /// <summary>XTF's X86_VEC_RET2KERN: the DPL 3 vector exec_user returns through.</summary>
    protected const int X86VecRet2Kern = HvmLayout.VectorReturnToKernel;

    /// <summary>XTF's X86_VEC_AVAIL: a vector the runtime leaves free for tests' own IDT entries.</summary>
    protected const int X86VecAvail = HvmLayout.VectorAvailable;

    /// <summary>
    /// XTF's xtf_unhandled_exception_hook: asked for an exception the exception table did not
    /// handle; return true once <see cref="ExceptionFrame"/> has been fixed up. Null (the default)
    /// leaves it to <see cref="UnhandledException"/>, then panic.
    /// </summary>
    protected UnhandledExceptionHook? UnhandledExceptionHook
    {
        get => Runtime.UnhandledExceptionHook;
        set => Runtime.UnhandledExceptionHook = value;
    }

    /// <summary>xtf_exlog_start: log every exception from now on, starting from an empty log.</summary>
    protected void ExlogStart() => Runtime.ExceptionLog.Start();

    /// <summary>xtf_exlog_reset: empty the log.</summary>
    protected void ExlogReset() => Runtime.ExceptionLog.Reset();

    /// <summary>xtf_exlog_stop: stop logging; the entries stay.</summary>
    protected void ExlogStop() => Runtime.ExceptionLog.Stop();

    /// <summary>xtf_exlog_entries.</summary>
    protected int ExlogEntries => Runtime.ExceptionLog.Count;

    /// <summary>xtf_exlog_entry: the entry, or null past the end.</summary>
    protected ExlogEntry? ExlogEntry(int index) => Runtime.ExceptionLog.Entry(index);

    /// <summary>xtf_exlog_dump_log.</summary>
    protected void ExlogDump() => Printk(Runtime.ExceptionLog.Dump(Bitness / 4));

    /// <summary>
    /// XTF's inline asm with its own _ASM_EXTABLE / _ASM_EXTABLE_HANDLER / _ASM_TRAP_OK entries,
    /// named by label in <see cref="AsmExtable"/>; nothing else is covered.
    /// </summary>
    protected ExecResult ExecAsm(Action<Assembler, AsmExtable> code) => Runtime.ExecAsm(code);

    /// <summary>
    /// XTF's xtf_set_idte for HVM: an interrupt gate to <paramref name="handler"/> on
    /// <paramref name="cs"/> (0: __KERN_CS) with <paramref name="dpl"/>.
    /// </summary>
    protected void SetIdtEntry(int vector, ulong handler, int dpl = 0, bool present = true, ushort cs = 0) =>
        Runtime.SetIdtEntry(vector, handler, dpl, present, cs);
}
