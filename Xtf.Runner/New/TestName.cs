using System.Globalization;
using System.Text;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Runner.New;

/// <summary>
/// What a new test may be called, and the C# names it gets. Upstream's make-new-test.sh checks
/// only that a name was given; its tests are all lowercase words of letters and digits joined by
/// single hyphens (<c>xsa-472-1</c>, <c>nmi-taskswitch-priv</c>), and xtf-runner's selection
/// grammar, <c>[[test-]ENV-]NAME[~VARIATION]</c>, reads some names as something else. So a name
/// here is such words, starting with a letter (it becomes a class name), and none of the ones the
/// runner would not take for a test.
/// </summary>
internal static class TestName
{
    /// <summary>The first words of xtf-runner's own commands: <c>xtf-runner bench</c> is not a test.</summary>
    private static readonly string[] RunnerCommands = [BenchCommand.Name, ConformanceCommand.Name, "info", NewCommand.Name];

    /// <summary>
    /// The types a generated test names inside its own namespace: a class of the same name would
    /// hide them (<c>[XtfTest(...)]</c>, <c>Category.Utility</c>, <c>Environments.Hvm32</c>, <c>: TestCase</c>).
    /// </summary>
    private static readonly string[] UsedTypeNames = [nameof(XtfTestAttribute), "XtfTest", nameof(Category), nameof(Environments), nameof(TestCase)];

    /// <summary>Null if <paramref name="name"/> may name a new test, else why not (one sentence).</summary>
    public static string? Problem(string name)
    {
        if (name.Length == 0)
            return "No name given";
        if (!IsWords(name))
            return $"Test name '{name}' must be lowercase letters and digits in words joined by single '-', starting with a letter (like xsa-123 or pv-iopl)";

        string first = name.Split('-')[0];
        if (first == "test")
            return $"Test name '{name}' must not start with 'test-': xtf-runner reads that as an instance id's prefix";
        if (Categories.TryParse(name, out _) || IsEnvironmentToken(name))
            return $"Test name '{name}' is a category or environment in xtf-runner's selection";
        if (GuestEnvironment.TryParse(first, out _))
            return $"Test name '{name}' must not start with '{first}-': xtf-runner reads that as the environment of an instance";
        if (RunnerCommands.Contains(name))
            return $"Test name '{name}' is an xtf-runner command";
        if (UsedTypeNames.Contains(ClassName(name)))
            return $"Test name '{name}' would make a class {ClassName(name)}, which hides the framework type of that name in the test's source";
        return null;
    }

    /// <summary>
    /// The class (and last namespace part) of a test, as the tests in testcases/ are named: each
    /// word capitalised, hyphens dropped (<c>xsa-123</c> → <c>Xsa123</c>, <c>pv-iopl</c> → <c>PvIopl</c>).
    /// </summary>
    public static string ClassName(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (string word in name.Split('-', StringSplitOptions.RemoveEmptyEntries))
            sb.Append(char.ToUpperInvariant(word[0])).Append(word.AsSpan(1));
        return sb.ToString();
    }

    /// <summary>
    /// make-new-test.sh's NAME_UC for advisories: the name upper-cased (<c>xsa-123</c> → <c>XSA-123</c>).
    /// </summary>
    public static string UpperCase(string name) => name.ToUpper(CultureInfo.InvariantCulture);

    /// <summary>
    /// The advisory number of an <c>xsa-N...</c> name (<c>xsa-472-1</c> → 472): the page
    /// https://xenbits.xen.org/xsa/advisory-N.html. Null when the name carries none.
    /// </summary>
    public static int? AdvisoryNumber(string name)
    {
        if (!name.StartsWith("xsa-", StringComparison.Ordinal))
            return null;
        string number = new([.. name["xsa-".Length..].TakeWhile(char.IsAsciiDigit)]);
        return number.Length > 0 && int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
    }

    private static bool IsWords(string name)
    {
        if (!char.IsAsciiLetterLower(name[0]) || name[^1] == '-')
            return false;
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (c == '-' ? name[i - 1] == '-' : !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
                return false;
        }

        return true;
    }

    /// <summary>An environment or pseudo-environment token (as a prefix only the six count: <c>pv-iopl</c> is upstream's).</summary>
    private static bool IsEnvironmentToken(string word) => GuestEnvironment.TryParse(word, out _) || word is "hvm" or "pv";
}
