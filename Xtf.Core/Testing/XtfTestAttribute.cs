using Xtf.Core.Guest;

namespace Xtf.Core.Testing;

/// <summary>
/// Marks a <see cref="TestCase"/> as an XTF test: the equivalent of a test's info.json
/// (name, category, environments, variations) plus its title.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class XtfTestAttribute : Attribute
{
    public XtfTestAttribute(string name, Category category, Environments environments)
    {
        Name = name;
        Category = category;
        Environments = environments;
    }

    public string Name { get; }

    public Category Category { get; }

    public Environments Environments { get; }

    /// <summary>The title line printed after the banner (XTF's test_title).</summary>
    public string Title { get; init; } = "";

    /// <summary>Variations (instance suffix <c>~name</c>); none means one instance per environment.</summary>
    public string[] Variations { get; init; } = [];

    /// <summary>
    /// The quirks (hypervisor bugs, <c>xsa-106</c>, ...) this security test guards against: with any
    /// of them on it must report FAILURE, with none SUCCESS (the quirk table checks this).
    /// </summary>
    public string[] Guards { get; init; } = [];
}
