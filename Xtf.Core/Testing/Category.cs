namespace Xtf.Core.Testing;

/// <summary>XTF's test categories; the default selection is functional + xsa.</summary>
public enum Category
{
    /// <summary><c>special</c>: non-default; for tests that are not ordinary checks of the hypervisor (upstream's and our example and selftest).</summary>
    Special,

    /// <summary><c>functional</c>: checks that a feature behaves as the SDM and Xen's ABI say; selected by default.</summary>
    Functional,

    /// <summary><c>xsa</c>: a regression test for a Xen Security Advisory; selected by default.</summary>
    Xsa,

    /// <summary><c>utility</c>: non-default; a guest that reports rather than checks (the bundled fep and cpuid).</summary>
    Utility,

    /// <summary><c>in-development</c>: a test not yet trusted to pass; not selected by default.</summary>
    InDevelopment,
}

/// <summary>Category names and sets as xtf-runner spells them (<c>default_categories</c>, <c>non_default_categories</c>).</summary>
public static class Categories
{
    /// <summary>The five categories in declaration order: special, functional, xsa, utility, in-development.</summary>
    public static readonly IReadOnlyList<Category> All =
        [Category.Special, Category.Functional, Category.Xsa, Category.Utility, Category.InDevelopment];

    /// <summary>xtf-runner's <c>default_categories</c>: functional and xsa, what an environment-only selection or <c>--all</c> takes.</summary>
    public static readonly IReadOnlyList<Category> Default = [Category.Functional, Category.Xsa];

    /// <summary>The name info.json and the command line use (<c>in-development</c> for <see cref="Category.InDevelopment"/>); throws <see cref="ArgumentOutOfRangeException"/> for an undefined value.</summary>
    public static string Name(Category c) => c switch
    {
        Category.Special => "special",
        Category.Functional => "functional",
        Category.Xsa => "xsa",
        Category.Utility => "utility",
        Category.InDevelopment => "in-development",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>Parses a category name exactly as <see cref="Name"/> spells it (case-sensitive, as xtf-runner matches arguments against its category sets).</summary>
    public static bool TryParse(string name, out Category category)
    {
        foreach (var c in All)
        {
            if (Name(c) == name)
            {
                category = c;
                return true;
            }
        }

        category = default;
        return false;
    }

    /// <summary>Whether <paramref name="c"/> is in <see cref="Default"/>: a test of another category is only selected by naming it, its category or <c>--non-default</c>.</summary>
    public static bool IsDefault(Category c) => c is Category.Functional or Category.Xsa;
}
