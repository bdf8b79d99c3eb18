namespace Xtf.Core.Testing;

/// <summary>XTF's test categories; the default selection is functional + xsa.</summary>
public enum Category
{
    Special,
    Functional,
    Xsa,
    Utility,
    InDevelopment,
}

public static class Categories
{
    public static readonly IReadOnlyList<Category> All =
        [Category.Special, Category.Functional, Category.Xsa, Category.Utility, Category.InDevelopment];

    public static readonly IReadOnlyList<Category> Default = [Category.Functional, Category.Xsa];

    public static string Name(Category c) => c switch
    {
        Category.Special => "special",
        Category.Functional => "functional",
        Category.Xsa => "xsa",
        Category.Utility => "utility",
        Category.InDevelopment => "in-development",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

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

    public static bool IsDefault(Category c) => c is Category.Functional or Category.Xsa;
}
