using System.Globalization;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Matrix;

/// <summary>
/// The instance matrix's knobs, as <c>xtf.runsettings</c> <c>TestRunParameters</c> (or
/// <c>dotnet test -- TestRunParameters.Parameter(name="...", value="...")</c>) give them. Lists
/// are separated by commas or white space. Every parameter is optional; with none, the matrix is
/// every instance of every category with FEP, and the default categories without it.
/// </summary>
public sealed record MatrixParameters
{
    /// <summary>The parameter names this class reads (and <c>xtfdir</c>, which the upstream suite reads: <see cref="Upstream.UpstreamImageTests"/>); any other name is a bad parameter (a typo would otherwise be ignored).</summary>
    public static readonly IReadOnlyList<string> Names =
        ["selection", "environments", "categories", "variations", "quirks", "expect", "fep", "budget", "timeout", "watchdog", "logs", "shard", "xtfdir"];

    /// <summary>Today's per-instance instruction budget (a test that needs more is a CRASH).</summary>
    public const long DefaultBudget = 20_000_000;

    /// <summary>
    /// Selection tokens in xtf-runner's grammar: <c>selection</c>, then <c>categories</c>, then
    /// <c>environments</c> (tokens of one kind union, kinds intersect). Empty: the default matrix.
    /// </summary>
    public IReadOnlyList<string> Selection { get; init; } = [];

    /// <summary>
    /// <c>variations</c>: xtf-runner's <c>--variation</c>: only instances of these variations are
    /// kept, so tests without variations go (<see cref="Selection.WithVariations"/>). Null: every instance.
    /// </summary>
    public IReadOnlySet<string>? Variations { get; init; }

    /// <summary><c>quirks</c>: historical emulator bugs re-created in every instance; the instances guarding them must FAIL.</summary>
    public IReadOnlySet<Quirk> Quirks { get; init; } = Xtf.Core.Xen.Quirks.None;

    /// <summary>
    /// <c>expect</c>: the full path of an expectations file in xtf-runner's <c>--expect</c> format
    /// (<see cref="Core.Testing.Expectations"/>, read against the catalog by <see cref="MatrixPlan"/>);
    /// its entries replace the quirk rule for the instances they name (known interactions of a quirk, say).
    /// </summary>
    public string? ExpectPath { get; init; }

    /// <summary><c>fep</c>: the hypervisors to run the matrix on, Xen's hvm_fep on and/or off (<c>on,off</c> by default).</summary>
    public IReadOnlyList<bool> Fep { get; init; } = [true, false];

    /// <summary><c>budget</c>: instructions an instance may retire before it ends as CRASH.</summary>
    public long Budget { get; init; } = DefaultBudget;

    /// <summary><c>timeout</c>: wall-clock seconds per instance before it ends as CRASH; null for none.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary><c>watchdog</c>: host-time seconds per instance, the test's C# included, before it ends as CRASH (<see cref="RunSettings.Watchdog"/>, 60 by default).</summary>
    public TimeSpan Watchdog { get; init; } = InstanceWatchdog.DefaultLimit;

    /// <summary><c>logs</c>: a directory for every instance's console log (full path); null for failures only, in NUnit's work directory.</summary>
    public string? LogsDirectory { get; init; }

    /// <summary><c>shard</c>: <c>K/N</c>, run only shard K of each hypervisor's selection (as <c>xtf-runner --shard</c>).</summary>
    public Shard? Shard { get; init; }

    /// <summary>True when no selection token is given (<c>selection</c>, <c>categories</c>, <c>environments</c>), so the default matrix runs.</summary>
    public bool DefaultSelection => Selection.Count == 0;

    /// <summary>
    /// Reads the parameters. Throws <see cref="MatrixParameterException"/> naming the first bad
    /// parameter; an empty value is the same as leaving the parameter out.
    /// </summary>
    /// <param name="parameters">Name to value, as <c>TestContext.Parameters</c> holds them.</param>
    /// <param name="baseDirectory">What a relative <c>logs</c> or <c>expect</c> path is relative to (the repository root, for the matrix).</param>
    public static MatrixParameters Parse(IReadOnlyDictionary<string, string> parameters, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Keys.Order(StringComparer.Ordinal).FirstOrDefault(n => !Names.Contains(n)) is { } unknown)
            throw new MatrixParameterException(unknown, $"unknown parameter (known: {string.Join(", ", Names)})");

        string? Value(string name) =>
            parameters.TryGetValue(name, out string? v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        var tokens = new List<string>(List(Value("selection")));
        foreach (string c in List(Value("categories")))
        {
            if (!Categories.TryParse(c, out _))
                throw new MatrixParameterException("categories", $"unknown category '{c}' (known: {string.Join(", ", Categories.All.Select(Categories.Name))})");
            tokens.Add(c);
        }

        foreach (string e in List(Value("environments")))
        {
            if (!GuestEnvironment.TryParse(e, out _) && e is not ("pv" or "hvm"))
                throw new MatrixParameterException("environments", $"unknown environment '{e}' (known: {string.Join(", ", GuestEnvironment.AllEnvironments.Select(GuestEnvironment.Name).Order(StringComparer.Ordinal))}, pv, hvm)");
            tokens.Add(e);
        }

        var result = new MatrixParameters { Selection = tokens };

        if (Value("variations") is { } variations)
            result = result with { Variations = List(variations).ToHashSet(StringComparer.Ordinal) };

        if (Value("quirks") is { } quirks)
            result = result with { Quirks = ParseQuirks(quirks) };

        if (Value("expect") is { } expect)
        {
            string path = FullPath("expect", expect, baseDirectory);
            if (!File.Exists(path))
                throw new MatrixParameterException("expect", $"cannot read '{path}': no such file");
            result = result with { ExpectPath = path };
        }

        if (Value("fep") is { } fep)
            result = result with { Fep = ParseFep(fep) };

        if (Value("budget") is { } budget)
        {
            if (!long.TryParse(budget, NumberStyles.None, CultureInfo.InvariantCulture, out long b) || b <= 0)
                throw new MatrixParameterException("budget", $"'{budget}' is not a positive number of instructions");
            result = result with { Budget = b };
        }

        if (Value("timeout") is { } timeout)
        {
            if (!double.TryParse(timeout, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double t)
                || !double.IsFinite(t) || t <= 0 || t > TimeSpan.MaxValue.TotalSeconds)
                throw new MatrixParameterException("timeout", $"'{timeout}' is not a positive number of seconds");
            result = result with { Timeout = TimeSpan.FromSeconds(t) };
        }

        if (Value("watchdog") is { } watchdog)
        {
            if (!double.TryParse(watchdog, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double w)
                || !double.IsFinite(w) || w <= 0 || w > int.MaxValue / 1000.0)
                throw new MatrixParameterException("watchdog", $"'{watchdog}' is not a positive number of seconds");
            result = result with { Watchdog = TimeSpan.FromSeconds(w) };
        }

        if (Value("logs") is { } logs)
            result = result with { LogsDirectory = FullPath("logs", logs, baseDirectory) };

        if (Value("shard") is { } shard)
        {
            try
            {
                result = result with { Shard = Xtf.Core.Testing.Shard.Parse(shard) };
            }
            catch (SelectionException e)
            {
                throw new MatrixParameterException("shard", e.Message);
            }
        }

        return result;
    }

    private static string FullPath(string parameter, string path, string baseDirectory)
    {
        try
        {
            return Path.GetFullPath(path, baseDirectory);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new MatrixParameterException(parameter, $"'{path}' is not a path: {e.Message}");
        }
    }

    private static string[] List(string? value) =>
        value is null ? [] : value.Split([',', ' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);

    private static IReadOnlySet<Quirk> ParseQuirks(string value)
    {
        var set = new HashSet<Quirk>();
        foreach (string name in List(value))
        {
            if (!Xtf.Core.Xen.Quirks.TryParse(name, out var quirk))
                throw new MatrixParameterException("quirks", $"unknown quirk '{name}' (known: {string.Join(", ", Xtf.Core.Xen.Quirks.Names)})");
            set.Add(quirk);
        }

        return set.Count == 0 ? Xtf.Core.Xen.Quirks.None : set;
    }

    private static bool[] ParseFep(string value)
    {
        var runs = new List<bool>();
        foreach (string v in List(value))
        {
            bool on = v switch
            {
                "on" => true,
                "off" => false,
                _ => throw new MatrixParameterException("fep", $"'{v}' is not 'on' or 'off' (give 'on,off' for both)"),
            };
            if (!runs.Contains(on))
                runs.Add(on);
        }

        if (runs.Count == 0)
            throw new MatrixParameterException("fep", $"'{value}' names no hypervisor: give 'on', 'off' or 'on,off'");
        return [.. runs];
    }
}
