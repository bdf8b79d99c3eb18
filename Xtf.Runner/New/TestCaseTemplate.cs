using System.Text;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Runner.New;

/// <summary>
/// The source of a new test case, as make-new-test.sh writes tests/NAME/main.c: the test's
/// metadata (its Makefile's NAME, CATEGORY and TEST-ENVS, here the <see cref="XtfTestAttribute"/>),
/// a documentation header with the parts to fill in, the title (<c>"Test NAME"</c>, or
/// <c>"XSA-N PoC"</c> for the xsa category) and a test_main that reports SUCCESS.
/// </summary>
internal static class TestCaseTemplate
{
    /// <summary>make-new-test.sh's default category: xsa for a name starting <c>xsa-</c>, else utility.</summary>
    public static Category DefaultCategory(string name) =>
        name.StartsWith("xsa-", StringComparison.Ordinal) ? Category.Xsa : Category.Utility;

    /// <summary>make-new-test.sh's default environments: hvm32.</summary>
    public const Environments DefaultEnvironments = Environments.Hvm32;

    /// <summary>make-new-test.sh's test_title: <c>"Test NAME"</c>, or <c>"NAME_UC PoC"</c> in the xsa category.</summary>
    public static string Title(string name, Category category) =>
        category == Category.Xsa ? $"{TestName.UpperCase(name)} PoC" : $"Test {name}";

    /// <summary>The file name of the test's source: its class name.</summary>
    public static string FileName(string name) => TestName.ClassName(name) + ".cs";

    /// <summary>The C# source of the test case, with <c>\n</c> line ends (the repository's .editorconfig).</summary>
    public static string Source(string name, Category category, Environments environments)
    {
        string className = TestName.ClassName(name);
        var s = new StringBuilder();
        s.Append("using Xtf.Core.Guest;\n");
        s.Append("using Xtf.Core.Testing;\n");
        s.Append('\n');
        s.Append($"namespace Xtf.TestCases.{className};\n");
        s.Append('\n');
        s.Append("/// <summary>\n");
        if (category == Category.Xsa)
        {
            string advisory = TestName.AdvisoryNumber(name) is { } n
                ? $" (https://xenbits.xen.org/xsa/advisory-{n}.html)"
                : "";
            s.Append($"/// {TestName.UpperCase(name)}{advisory}. @todo What the bug was, and how this test\n");
            s.Append("/// finds it.\n");
        }
        else
        {
            s.Append($"/// {name}: @todo What this test checks, and the contract it checks it against (an SDM\n");
            s.Append("/// section, a Xen ABI, an advisory).\n");
        }

        s.Append("/// </summary>\n");
        s.Append("/// <remarks>\n");
        s.Append("/// Written by <c>xtf-runner new</c> (XTF's make-new-test.sh); it builds and passes as it is.\n");
        s.Append("/// To fill in:\n");
        s.Append("/// <list type=\"bullet\">\n");
        s.Append("/// <item>the summary above, as XTF's header comment documents a test;</item>\n");
        s.Append("/// <item>[XtfTest]: the category, the environments it runs in, <c>Title</c> (XTF's test_title,\n");
        s.Append("/// printed after the banner), <c>Variations</c> if any, and for a security test the quirks it\n");
        s.Append("/// <c>Guards</c>;</item>\n");
        s.Append("/// <item><c>Main</c>, XTF's test_main: do it to the machine with <c>Exec</c> snippets,\n");
        s.Append("/// <c>ExecUser</c> and hypercalls, print with <c>Printk</c>, and report with <c>Success</c>,\n");
        s.Append("/// <c>Skip</c>, <c>Error</c> or <c>Failure</c> (xtf_success() and friends; the most severe\n");
        s.Append("/// one reported is the result);</item>\n");
        s.Append("/// <item>a row in README's test table.</item>\n");
        s.Append("/// </list>\n");
        s.Append("/// </remarks>\n");
        s.Append($"[XtfTest(\"{name}\", {CategoryExpression(category)}, {EnvironmentsExpression(environments)}, Title = \"{Title(name, category)}\")]\n");
        s.Append($"public sealed class {className} : TestCase\n");
        s.Append("{\n");
        s.Append("    public override void Main()\n");
        s.Append("    {\n");
        s.Append("        Success();\n");
        s.Append("    }\n");
        s.Append("}\n");
        return s.ToString();
    }

    /// <summary><c>Category.Utility</c>: the enum member of a category.</summary>
    public static string CategoryExpression(Category category) => $"{nameof(Category)}.{category}";

    /// <summary>
    /// The environments as the tests in testcases/ write them: <c>Environments.All</c>,
    /// <c>Environments.Hvm</c> or <c>Environments.Pv</c> for whole groups, otherwise the
    /// members in xtf-runner's order joined by <c>|</c> (<c>Environments.Hvm32 | Environments.Pv64</c>).
    /// </summary>
    public static string EnvironmentsExpression(Environments environments)
    {
        if ((environments & Environments.All) == Environments.None)
            throw new ArgumentOutOfRangeException(nameof(environments), environments, "no environment");
        if ((environments & Environments.All) == Environments.All)
            return Member(Environments.All);

        var parts = new List<string>();
        foreach (var group in new[] { Environments.Hvm, Environments.Pv })
        {
            if ((environments & group) == group)
                parts.Add(Member(group));
            else
                parts.AddRange(GuestEnvironment.Expand(environments & group).Select(Member));
        }

        return string.Join(" | ", parts);
    }

    private static string Member(Environments e) => $"{nameof(Environments)}.{e}";
}
