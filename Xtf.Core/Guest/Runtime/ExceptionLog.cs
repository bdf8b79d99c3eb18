namespace Xtf.Core.Guest.Runtime;

/// <summary>One entry of XTF's exception log (exlog_entry_t): where the exception was taken, and what.</summary>
public readonly record struct ExlogEntry(ulong Ip, ushort Cs, uint ErrorCode, int Vector)
{
    /// <summary><c>CS:IP vec N[EC]</c>: selector and error code as 4 hex digits, IP unpadded hex, vector decimal.</summary>
    public override string ToString() => $"{Cs:x4}:{Ip:x} vec {Vector}[{ErrorCode:x4}]";
}

/// <summary>
/// XTF's exception log (common/exlog.c): while logging, do_exception records every exception
/// before it looks at the exception table. Eight entries; a ninth is "Exception log full", the
/// log dumped, and a panic.
/// </summary>
public sealed class ExceptionLog
{
    /// <summary>Entries the log holds (XTF's exlog entries array: 8).</summary>
    public const int Capacity = 8;

    private readonly ExlogEntry[] entries = new ExlogEntry[Capacity];

    /// <summary>XTF's log_entries: how many exceptions were logged since the last start or reset.</summary>
    public int Count { get; private set; }

    /// <summary>True between <see cref="Start"/> and <see cref="Stop"/> (XTF's logging flag).</summary>
    public bool Logging { get; private set; }

    /// <summary>xtf_exlog_start: logging on, log emptied.</summary>
    public void Start()
    {
        Logging = true;
        Count = 0;
    }

    /// <summary>xtf_exlog_reset: log emptied, logging unchanged.</summary>
    public void Reset() => Count = 0;

    /// <summary>xtf_exlog_stop: logging off, entries kept.</summary>
    public void Stop() => Logging = false;

    /// <summary>xtf_exlog_entry: the entry, or null past the end.</summary>
    public ExlogEntry? Entry(int index) => index >= 0 && index < Count ? entries[index] : null;

    /// <summary>xtf_exlog_log_exception; false when the log is full (the caller dumps and panics).</summary>
    internal bool Log(ExlogEntry entry)
    {
        if (!Logging)
            return true;
        if (Count >= Capacity)
            return false;
        entries[Count++] = entry;
        return true;
    }

    /// <summary>xtf_exlog_dump_log's lines; <paramref name="pointerDigits"/> is %p's width (8 or 16).</summary>
    public string Dump(int pointerDigits)
    {
        if (Count == 0)
            return "No exception log entries\n";
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < Count; i++)
        {
            var e = entries[i];
            string ip = e.Ip.ToString("x" + pointerDigits, System.Globalization.CultureInfo.InvariantCulture);
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $" exlog[{i:00}] {e.Cs:x4}:{ip} vec {e.Vector}[{e.ErrorCode:x4}]\n");
        }

        return text.ToString();
    }
}
