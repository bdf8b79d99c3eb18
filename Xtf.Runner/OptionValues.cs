using Xtf.Core.Testing;
using Xtf.Core.Xen;

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

    /// <summary><c>--budget N</c> and <c>--timeout SECONDS</c>, each positive; absent ones keep the defaults.</summary>
    public static RunSettings Settings(long? budget, double? timeoutSeconds)
    {
        var settings = new RunSettings();
        if (budget is { } b)
        {
            if (b <= 0)
                throw new RunnerException($"--budget must be a positive number of instructions, not {b}");
            settings = settings with { InstructionBudget = b, UpstreamInstructionBudget = b };
        }

        if (timeoutSeconds is { } t)
        {
            if (!double.IsFinite(t) || t <= 0 || t > TimeSpan.MaxValue.TotalSeconds)
                throw new RunnerException($"--timeout must be a positive number of seconds, not {t}");
            settings = settings with { Timeout = TimeSpan.FromSeconds(t) };
        }

        return settings;
    }

    /// <summary><c>--watchdog SECONDS</c>, positive; absent keeps <paramref name="settings"/>' (<see cref="InstanceWatchdog.DefaultLimit"/>).</summary>
    public static RunSettings Watchdog(RunSettings settings, double? seconds)
    {
        if (seconds is not { } s)
            return settings;
        if (!double.IsFinite(s) || s <= 0 || s > int.MaxValue / 1000.0)
            throw new RunnerException($"--watchdog must be a positive number of seconds, not {s}");
        return settings with { Watchdog = TimeSpan.FromSeconds(s) };
    }

    /// <summary>--fep on|off (absent: on, Xen's debug builds as XTF's CI runs them).</summary>
    public static bool Fep(string? value) => value switch
    {
        null or "on" => true,
        "off" => false,
        _ => throw new RunnerException($"--fep must be 'on' or 'off', not '{value}'"),
    };

    /// <summary><c>--quirk NAME</c> (repeatable): each must be a known quirk.</summary>
    public static IReadOnlySet<Quirk> ParseQuirks(IEnumerable<string> names)
    {
        var quirks = new HashSet<Quirk>();
        foreach (string name in names)
        {
            if (!Quirks.TryParse(name, out var quirk))
                throw new RunnerException($"Unknown quirk '{name}' (known: {string.Join(", ", Quirks.Names)})");
            quirks.Add(quirk);
        }

        return quirks.Count == 0 ? Quirks.None : quirks;
    }

    /// <summary>Creates the --logs directory before anything runs; one that cannot be made is the user's error.</summary>
    public static string? PrepareLogs(string? directory)
    {
        if (directory is null)
            return null;
        try
        {
            return Directory.CreateDirectory(directory).FullName;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunnerException($"--logs: cannot create '{directory}': {e.Message}");
        }
    }
}
