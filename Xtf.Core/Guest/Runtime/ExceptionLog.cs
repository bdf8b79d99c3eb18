namespace Xtf.Core.Guest.Runtime;

/// <summary>One exception as XTF's exlog_entry_t records it: the saved IP and CS, the error code and the entry vector.</summary>
public readonly record struct ExceptionLogEntry(ulong Ip, ushort Cs, uint ErrorCode, int Vector);

/// <summary>
/// XTF's exception log (common/exlog.c): while logging, do_exception records every exception
/// before it consults the exception table, into eight slots. The ninth exception is a framework
/// error (XTF dumps the log and panics).
/// </summary>
public sealed class ExceptionLog
{
    public const int Capacity = 8;

    private readonly ExceptionLogEntry[] log = new ExceptionLogEntry[Capacity];

    /// <summary>Whether exceptions are being recorded (xtf_exlog_start / xtf_exlog_stop).</summary>
    public bool Logging { get; private set; }

    /// <summary>xtf_exlog_entries: how many exceptions were taken since the last start or reset.</summary>
    public int Count { get; private set; }

    public void Start()
    {
        Logging = true;
        Count = 0;
    }

    public void Reset() => Count = 0;

    public void Stop() => Logging = false;

    /// <summary>xtf_exlog_entry: entry <paramref name="index"/>, or null past the end of the log.</summary>
    public ExceptionLogEntry? Entry(int index) => index >= 0 && index < Capacity && index < Count ? log[index] : null;

    /// <summary>The recorded entries, oldest first.</summary>
    public IEnumerable<ExceptionLogEntry> Entries => log.Take(Math.Min(Count, Capacity));

    /// <summary>
    /// xtf_exlog_log_exception: records <paramref name="regs"/> if logging. Returns false when the
    /// log is already full (the caller dumps it and panics).
    /// </summary>
    public bool Record(ExceptionFrame regs)
    {
        if (!Logging)
            return true;
        if (Count >= Capacity)
            return false;
        log[Count++] = new ExceptionLogEntry(regs.Rip, regs.Cs, regs.ErrorCode, regs.Vector);
        return true;
    }
}
