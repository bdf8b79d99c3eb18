using Xtf.Core.Testing;

namespace Xtf.Runner;

/// <summary>The run options whose values need checking beyond their type; a bad value is a runner error.</summary>
internal static class OptionValues
{
    /// <summary>A count of at least 1 (<c>-j</c>, <c>--repeat</c>); absent gives <paramref name="absent"/>.</summary>
    public static int PositiveCount(string? text, string option, int absent)
    {
        if (text is null)
            return absent;
        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1)
            throw new RunnerException($"{option} must be a positive whole number, not '{text}'");
        return n;
    }

    /// <summary><c>--expect FILE</c>, read and checked against the catalog before anything runs.</summary>
    public static Expectations ReadExpectations(string? path, TestCatalog catalog)
    {
        if (path is null)
            return Expectations.None;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunnerException($"--expect: cannot read '{path}': {e.Message}");
        }

        try
        {
            return Expectations.Parse(text, catalog);
        }
        catch (ExpectationsException e)
        {
            throw new RunnerException($"--expect: {path}: {e.Message}");
        }
    }

    /// <summary>
    /// <c>-m console|logfile</c> (default console) with <c>--logfile-dir</c> and
    /// <c>--logfile-pattern</c>; null for console mode, where, as upstream, the logfile options are ignored.
    /// </summary>
    public static LogfileMode? ResultsMode(string? mode, string? directory, string? pattern)
    {
        switch (mode)
        {
            case null or "console":
                return null;
            case "logfile":
                string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                return LogfileMode.Create(
                    directory ?? LogfileMode.DefaultDirectory(Environment.GetEnvironmentVariable, home),
                    pattern ?? LogfileMode.DefaultPattern);
            default:
                throw new RunnerException($"-m/--results-mode must be 'console' or 'logfile', not '{mode}'");
        }
    }
}
