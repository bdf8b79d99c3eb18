using Xtf.Core.Testing;
using Xtf.Core.Testing.Reports;

namespace Xtf.Runner;

/// <summary>
/// The run's <c>--junit</c> and <c>--json</c> files. Each is written once, whole, to a temporary file
/// beside it and then renamed over it (rename(2) is atomic within a directory), so the path holds a
/// complete report or whatever it held before, never a truncated one, whenever the runner stops.
/// Thread-safe: the run's end and a second signal may both try; the first write wins.
/// </summary>
internal sealed class RunReports
{
    private readonly object gate = new();
    private readonly string? junit;
    private readonly string? json;
    private bool written;

    private RunReports(string? junit, string? json)
    {
        this.junit = junit;
        this.json = json;
    }

    /// <summary>Checks before anything runs that each path can be written: a path that cannot is the user's error at once.</summary>
    public static RunReports Open(string? junit, string? json) =>
        new(Check(junit, "--junit"), Check(json, "--json"));

    /// <summary>Writes both reports unless they were written already; returns whether this call wrote them.</summary>
    public bool TryWrite(IReadOnlyList<InstanceOutcome> outcomes, Interruption? interrupted)
    {
        lock (gate)
        {
            if (written)
                return false;
            if (junit is not null)
                Replace(junit, "--junit", s =>
                {
                    using var writer = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true);
                    JUnitReport.Write(writer, outcomes, interrupted);
                });
            if (json is not null)
                Replace(json, "--json", s => JsonReport.Write(s, outcomes, interrupted));
            written = true;
            return true;
        }
    }

    private static string? Check(string? path, string option)
    {
        if (path is null)
            return null;
        try
        {
            if (Directory.Exists(path))
                throw new IOException("it is a directory");
            // A probe beside the file, as the real write will create; the file itself is left as it is.
            string probe = TemporaryPath(path);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write))
            {
            }

            File.Delete(probe);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunnerException($"{option}: cannot write '{path}': {e.Message}");
        }
    }

    private static void Replace(string path, string option, Action<Stream> write)
    {
        string temporary = TemporaryPath(path);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new RunnerException($"{option}: cannot write '{path}': {e.Message}");
        }
    }

    /// <summary>A name in the report's own directory (so the rename stays within one file system) that no other run uses.</summary>
    private static string TemporaryPath(string path)
    {
        string full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }
}
