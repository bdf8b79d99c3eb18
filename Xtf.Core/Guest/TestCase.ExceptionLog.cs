using System.Globalization;
using Xtf.Core.Guest.Runtime;

namespace Xtf.Core.Guest;

public abstract partial class TestCase
{
    private readonly ExceptionLog exlog = new();

    /// <summary>XTF's xtf_exlog_start: clear the exception log and record every exception from now on.</summary>
    protected void XtfExlogStart() => exlog.Start();

    /// <summary>XTF's xtf_exlog_reset: clear the log, keep logging.</summary>
    protected void XtfExlogReset() => exlog.Reset();

    /// <summary>XTF's xtf_exlog_stop.</summary>
    protected void XtfExlogStop() => exlog.Stop();

    /// <summary>XTF's xtf_exlog_entries.</summary>
    protected int XtfExlogEntries => exlog.Count;

    /// <summary>XTF's xtf_exlog_entry: null past the end of the log.</summary>
    protected ExceptionLogEntry? XtfExlogEntry(int index) => exlog.Entry(index);

    /// <summary>XTF's xtf_exlog_dump_log: one line per entry, <c>exlog[NN] cs:ip vec N[ec]</c>.</summary>
    protected void XtfExlogDumpLog()
    {
        if (exlog.Count == 0)
        {
            Printk("No exception log entries\n");
            return;
        }

        int i = 0;
        foreach (var e in exlog.Entries)
            Printk($" exlog[{i++:d2}] {e.Cs:x4}:{FormatPointer(e.Ip)} vec {e.Vector}[{e.ErrorCode:x4}]\n");
    }

    /// <summary>XTF's %p: zero-padded to the width of a pointer in the environment.</summary>
    protected string FormatPointer(ulong pointer) =>
        pointer.ToString(Bitness == 64 ? "x16" : "x8", CultureInfo.InvariantCulture);

    /// <summary>do_exception's first step (xtf_exlog_log_exception); a full log is XTF's panic.</summary>
    internal void LogException(ExceptionFrame regs)
    {
        if (exlog.Record(regs))
            return;
        Printk("Exception log full\n");
        XtfExlogDumpLog();
        Panic("Exception log full\n");
    }
}
