using System.Text;

namespace Xtf.Core.Machine;

/// <summary>
/// A copy of a console log that another thread may read while the guest's thread writes it: the
/// instance watchdog reads it for an instance whose thread it abandons, so the CRASH shows what
/// the guest printed before its C# stopped giving control back. Fed by <see cref="ConsoleLog.ByteWritten"/>,
/// so it holds no more than the log's <see cref="ConsoleLog.MaxBytes"/>.
/// </summary>
public sealed class ConsoleMirror
{
    private readonly Lock gate = new();
    private readonly List<byte> bytes = [];

    /// <summary>Appends one byte (the writer's thread).</summary>
    public void Append(byte b)
    {
        lock (gate)
            bytes.Add(b);
    }

    /// <summary>The bytes so far as text (any thread).</summary>
    public string Text
    {
        get
        {
            lock (gate)
                return Encoding.Latin1.GetString([.. bytes]);
        }
    }

    /// <summary>The bytes so far as lines, split as <see cref="ConsoleLog.Lines"/> does.</summary>
    public IReadOnlyList<string> Lines => ConsoleLog.SplitLines(Text);
}
