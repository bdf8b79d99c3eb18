using System.Text;
using Xtf.Core.Testing;

namespace Xtf.Runner;

/// <summary>
/// xtf-runner's <c>-m logfile</c>: results come from the console log file xenconsoled keeps for each
/// guest (<c>--logfile-dir</c>/<c>--logfile-pattern</c>, <c>%s</c> the instance id) rather than
/// from the console. Here the console backend plays xenconsoled: an instance's console output is
/// appended, byte for byte, to its file. The runner then reads the file from where it ended before
/// the instance ran, up to and including the first line holding <c>Test result:</c>, and decides the
/// result from the last line read, as upstream's run_test_logfile does. A host exception's trace is
/// appended after that read (ours: xenconsoled has none to write).
/// </summary>
internal sealed class LogfileMode
{
    /// <summary>Upstream's default name of a guest's console log.</summary>
    public const string DefaultPattern = "guest-%s.log";

    private readonly Dictionary<string, long> starts = new(StringComparer.Ordinal);

    private LogfileMode(string directory, string pattern)
    {
        Directory = directory;
        Pattern = pattern;
    }

    /// <summary>Where the log files are, as an absolute path.</summary>
    public string Directory { get; }

    /// <summary>The file name pattern; every <c>%s</c> is the instance id.</summary>
    public string Pattern { get; }

    /// <summary>
    /// The default directory. Upstream's is <c>/var/log/xen/console/</c>, where a root-run
    /// xenconsoled writes; there is no xenconsoled or root here, so the default is per user:
    /// <c>$XDG_STATE_HOME/xtf/console</c>, or <c>~/.local/state/xtf/console</c> when that is unset.
    /// </summary>
    public static string DefaultDirectory(Func<string, string?> getEnvironment, string home)
    {
        ArgumentNullException.ThrowIfNull(getEnvironment);
        string state = getEnvironment("XDG_STATE_HOME") is { Length: > 0 } xdg && Path.IsPathFullyQualified(xdg)
            ? xdg
            : Path.Combine(home, ".local", "state");
        return Path.Combine(state, "xtf", "console");
    }

    /// <summary>Checks <c>--logfile-pattern</c> and creates <c>--logfile-dir</c>; bad values are runner errors.</summary>
    public static LogfileMode Create(string directory, string pattern)
    {
        if (!pattern.Contains("%s", StringComparison.Ordinal))
            throw new RunnerException($"--logfile-pattern must contain %s (the instance id), not '{pattern}'");
        try
        {
            return new LogfileMode(System.IO.Directory.CreateDirectory(directory).FullName, pattern);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunnerException($"--logfile-dir: cannot create '{directory}': {e.Message}");
        }
    }

    /// <summary>The log file of one instance (upstream: the pattern with %s replaced, joined to the directory).</summary>
    public string PathOf(TestInstance instance) => Path.Combine(Directory, Pattern.Replace("%s", instance.Id, StringComparison.Ordinal));

    /// <summary>
    /// Before a round: creates each instance's file if needed (upstream opens it O_CREAT) and notes
    /// where it ends, so only what this round appends is read back. A file that cannot be created
    /// is a runner error before anything runs.
    /// </summary>
    public void Prepare(IEnumerable<TestInstance> instances)
    {
        starts.Clear();
        foreach (var instance in instances)
        {
            string path = PathOf(instance);
            try
            {
                using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
                starts[instance.Id] = file.Length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new RunnerException($"--logfile-dir: cannot write '{path}': {e.Message}");
            }
        }
    }

    /// <summary>
    /// xenconsoled's part (the instance's console output appended to its file), then upstream's
    /// (the file read back). The outcome's result and lines become what the file says.
    /// </summary>
    public (string Path, InstanceOutcome Outcome) Collect(InstanceOutcome outcome)
    {
        string path = PathOf(outcome.Instance);
        long start = starts[outcome.Instance.Id];
        string text;
        try
        {
            using (var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
                file.Write(Encoding.Latin1.GetBytes(outcome.ConsoleLog));
            using (var read = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                read.Seek(start, SeekOrigin.Begin);
                using var reader = new StreamReader(read, Encoding.Latin1);
                text = reader.ReadToEnd();
            }

            // A host exception's trace goes after what was read back, so the result never comes from it.
            if (RunCommand.LogTrailer(outcome) is { Length: > 0 } trailer)
                File.AppendAllText(path, trailer, Encoding.Latin1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RunnerException($"--logfile-dir: cannot use '{path}': {e.Message}");
        }

        var lines = new List<string>();
        string last = "";
        foreach (string raw in SplitLines(text))
        {
            last = raw.TrimEnd();
            lines.Add(last);
            if (last.Contains("Test result:", StringComparison.Ordinal))
                break;
        }

        var result = TestResults.FromConsoleLog([last]);
        var fromFile = outcome with
        {
            Result = result,
            Lines = lines,
            Diagnostic = result == TestResult.Crash ? outcome.Diagnostic : null,
        };
        return (path, fromFile);
    }

    /// <summary>Python's readlines: a final line without a newline counts, a trailing newline makes no empty line.</summary>
    private static IEnumerable<string> SplitLines(string text)
    {
        if (text.Length == 0)
            return [];
        string[] lines = text.Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }
}
