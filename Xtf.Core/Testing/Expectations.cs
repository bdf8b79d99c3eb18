using System.Text.RegularExpressions;

namespace Xtf.Core.Testing;

/// <summary>
/// Expected results per instance (xtf-runner's <c>--expect FILE</c>), for tolerable or known
/// failures on older configurations. One entry a line, <c>&lt;instance&gt; &lt;RESULT&gt;</c>:
/// the instance is a full id (<c>test-pv64-xsa-123</c>) or a glob over ids with <c>*</c> and
/// <c>?</c> (<c>test-pv32pae-*</c>); RESULT is one of xtf-runner's results (SUCCESS, SKIP, ERROR,
/// FAILURE, CRASH). <c>#</c> starts a comment; blank lines are ignored. An exact id beats any glob;
/// of several globs, the last matching line wins. Instances not listed expect SUCCESS.
/// Every entry must name something in the catalog: a typo is an error, never a silent pass.
/// </summary>
public sealed class Expectations
{
    private readonly Dictionary<string, TestResult> exact;
    private readonly List<(Regex Pattern, TestResult Result)> globs;

    private Expectations(Dictionary<string, TestResult> exact, List<(Regex, TestResult)> globs)
    {
        this.exact = exact;
        this.globs = globs;
    }

    /// <summary>No expectations: every instance expects SUCCESS, which is xtf-runner's own rule.</summary>
    public static Expectations None { get; } = new(new Dictionary<string, TestResult>(StringComparer.Ordinal), []);

    /// <summary>Whether any instance expects something other than SUCCESS.</summary>
    public bool IsEmpty => exact.Count == 0 && globs.Count == 0;

    /// <summary>The result <paramref name="instance"/> is expected to have.</summary>
    public TestResult For(TestInstance instance) => Listed(instance) ?? TestResult.Success;

    /// <summary>
    /// The result an entry of the file gives <paramref name="instance"/>, or null when no entry
    /// names it (a caller with a rule of its own for unlisted instances, such as the NUnit matrix's
    /// quirk rule, applies that rule then).
    /// </summary>
    public TestResult? Listed(TestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (exact.TryGetValue(instance.Id, out var result))
            return result;
        for (int i = globs.Count - 1; i >= 0; i--)
        {
            if (globs[i].Pattern.IsMatch(instance.Id))
                return globs[i].Result;
        }

        return null;
    }

    /// <summary>
    /// Parses an expectations file's text against the catalog. Throws
    /// <see cref="ExpectationsException"/> naming the line for a malformed line, an unknown result
    /// word, an id or glob that matches no instance of the catalog, or an id listed twice.
    /// </summary>
    public static Expectations Parse(string text, TestCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(catalog);

        var ids = catalog.AllInstances().Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var exact = new Dictionary<string, (TestResult Result, int Line)>(StringComparer.Ordinal);
        var globs = new List<(Regex, TestResult)>();
        string[] lines = text.Split('\n');
        for (int n = 1; n <= lines.Length; n++)
        {
            string line = lines[n - 1];
            int hash = line.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0)
                line = line[..hash];
            string[] fields = line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
                continue;
            if (fields.Length != 2)
                throw new ExpectationsException($"line {n}: expected '<instance id> <RESULT>', got '{line.Trim()}'");

            string key = fields[0];
            if (!TryParseResult(fields[1], out var result))
                throw new ExpectationsException($"line {n}: unknown result '{fields[1]}' (known: {string.Join(", ", Enum.GetValues<TestResult>().Select(TestResults.Name))})");

            if (key.AsSpan().IndexOfAny('*', '?') >= 0)
            {
                var pattern = Glob(key);
                if (!ids.Any(pattern.IsMatch))
                    throw new ExpectationsException($"line {n}: '{key}' matches no test instance");
                globs.Add((pattern, result));
                continue;
            }

            if (!ids.Contains(key))
                throw new ExpectationsException($"line {n}: unknown test instance '{key}'");
            if (exact.TryGetValue(key, out var earlier))
                throw new ExpectationsException($"line {n}: '{key}' is already expected {TestResults.Name(earlier.Result)} at line {earlier.Line}");
            exact[key] = (result, n);
        }

        return new Expectations(exact.ToDictionary(e => e.Key, e => e.Value.Result, StringComparer.Ordinal), globs);
    }

    /// <summary>xtf-runner's result words, exactly as it prints them.</summary>
    private static bool TryParseResult(string word, out TestResult result)
    {
        foreach (var r in Enum.GetValues<TestResult>())
        {
            if (TestResults.Name(r) == word)
            {
                result = r;
                return true;
            }
        }

        result = default;
        return false;
    }

    private static Regex Glob(string glob) =>
        new("^" + Regex.Escape(glob).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant);
}
