using Xtf.Core.Testing;

namespace Xtf.Runner;

/// <summary>How a run executes and reports, once the command line has been checked.</summary>
internal sealed record RunOptions
{
    /// <summary><c>-q</c> count: 1 drops console logs, 2 also SUCCESS rows (xtf-runner's levels).</summary>
    public int Quiet { get; init; }

    /// <summary><c>-v</c>: a host exception's full stack trace also goes to stderr.</summary>
    public bool Verbose { get; init; }

    /// <summary><c>-j N</c>: instances run at once.</summary>
    public int Jobs { get; init; } = 1;

    /// <summary><c>--repeat N</c>: times the whole selection runs.</summary>
    public int Rounds { get; init; } = 1;

    /// <summary><c>--expect FILE</c>; without it every instance expects SUCCESS.</summary>
    public Expectations Expectations { get; init; } = Expectations.None;

    /// <summary><c>-m logfile</c>: where each instance's console log goes and is read back from; null in console mode.</summary>
    public LogfileMode? Logfile { get; init; }

    /// <summary><c>--logs DIR</c>, already created; null without it.</summary>
    public string? LogsDirectory { get; init; }

    /// <summary>The catalog holds our C# tests and upstream images together: table rows note which an instance is, and upstream logs go to <c>DIR/upstream/</c>.</summary>
    public bool MarkOrigin { get; init; }

    /// <summary>Whether stderr is a terminal: a live progress line is drawn there.</summary>
    public bool Interactive { get; init; }

    /// <summary>Cancelled by the first SIGINT/SIGTERM: no instance starts after it, and no further round.</summary>
    public CancellationToken Stop { get; init; }
}
