using System.Text;

namespace Xtf.Core.Machine;

/// <summary>
/// The instance's console log: every byte any console channel delivered, in order. Bytes are
/// appended synchronously by the device or hypervisor path that received them.
/// </summary>
public sealed class ConsoleLog
{
    private readonly List<byte> bytes = [];

    /// <summary>Upper bound on the log, so a runaway guest cannot exhaust host memory.</summary>
    public const int MaxBytes = 4 << 20;

    public event Action<byte>? ByteWritten;

    public int Length => bytes.Count;

    public bool Truncated { get; private set; }

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

    public void Append(ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
            Append(b);
    }

    /// <summary>The log as text, with the guest's CRLF line ends kept.</summary>
    public string Text => Encoding.Latin1.GetString(bytes.ToArray());

    /// <summary>The log split into lines (CRLF or LF), without a trailing empty line.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            var lines = Text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
            if (lines.Count > 0 && lines[^1].Length == 0)
                lines.RemoveAt(lines.Count - 1);
            return lines;
        }
    }
}
