using System.Text;

namespace Xtf.Core.Machine;

/// <summary>
/// One console channel's log: every byte the channel delivered, in order (the machine's debug
/// port, the hypervisor's console_io, or a PV console ring backend each keep one). Bytes are
/// appended synchronously by the device or hypervisor path that received them.
/// </summary>
public sealed class ConsoleLog
{
    private readonly List<byte> bytes = [];

    /// <summary>Upper bound on the log, so a runaway guest cannot exhaust host memory.</summary>
    public const int MaxBytes = 4 << 20;

    /// <summary>Raised synchronously for each byte kept in the log (not for bytes dropped past <see cref="MaxBytes"/>), on the thread of the channel that delivered it.</summary>
    public event Action<byte>? ByteWritten;

    /// <summary>Bytes kept so far (at most <see cref="MaxBytes"/>).</summary>
    public int Length => bytes.Count;

    /// <summary>True once a byte was dropped because the log reached <see cref="MaxBytes"/>.</summary>
    public bool Truncated { get; private set; }

    /// <summary>Appends one byte, or drops it and sets <see cref="Truncated"/> when the log is full.</summary>
    public void Append(byte b)
    {
        if (bytes.Count >= MaxBytes)
        {
            Truncated = true;
            return;
        }

        bytes.Add(b);
        ByteWritten?.Invoke(b);
    }

    /// <summary>Appends the bytes in order, as <see cref="Append(byte)"/> does each.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
            Append(b);
    }

    /// <summary>The log as text, with the guest's CRLF line ends kept.</summary>
    public string Text => Encoding.Latin1.GetString(bytes.ToArray());

    /// <summary>The log split into lines (CRLF or LF), without a trailing empty line.</summary>
    public IReadOnlyList<string> Lines => SplitLines(Text);

    /// <summary>Console text split into lines (CRLF or LF), without a trailing empty line.</summary>
    public static IReadOnlyList<string> SplitLines(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        if (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        return lines;
    }
}
