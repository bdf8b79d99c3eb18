using Xtf.Core.Testing;

namespace Xtf.Runner;

/// <summary>
/// The live progress line on a terminal: <c>[done/total] &lt;last instance&gt; &lt;RESULT&gt;</c>,
/// redrawn in place with <c>\r</c>. Disabled (writes nothing at all) when the stream is redirected,
/// so logs and CI output never hold a carriage return. Callers clear it before writing to the
/// terminal's other stream and redraw it afterwards. Not thread-safe: MatrixRun never calls
/// its callbacks concurrently.
/// </summary>
internal sealed class ProgressReporter
{
    /// <summary>Longest line drawn, so it never wraps on an 80-column terminal (a wrapped line cannot be redrawn with \r).</summary>
    private const int MaxWidth = 79;

    private readonly TextWriter output;
    private readonly bool enabled;
    private readonly int total;
    private int done;
    private string text = "";
    private int drawn;

    public ProgressReporter(TextWriter output, bool enabled, int total)
    {
        this.output = output;
        this.enabled = enabled;
        this.total = total;
    }

    /// <summary>One more instance finished (in completion order).</summary>
    public void Completed(InstanceOutcome outcome)
    {
        done++;
        text = $"[{done}/{total}] {outcome.Instance.Id} {TestResults.Name(outcome.Result)}";
        if (text.Length > MaxWidth)
            text = text[..MaxWidth];
        Draw();
    }

    /// <summary>Erases the line, leaving the cursor at its start.</summary>
    public void Clear()
    {
        if (!enabled || drawn == 0)
            return;
        output.Write('\r' + new string(' ', drawn) + '\r');
        output.Flush();
        drawn = 0;
    }

    /// <summary>Draws the line again after <see cref="Clear"/>.</summary>
    public void Draw()
    {
        if (!enabled || text.Length == 0)
            return;
        output.Write('\r' + text.PadRight(drawn));
        output.Flush();
        drawn = text.Length;
    }
}
