using Xtf.Core.Guest;

namespace Xtf.Core.Testing;

/// <summary>
/// Marks a <see cref="TestCase"/> as an XTF test: the equivalent of a test's info.json
/// (name, category, environments, variations) plus its title.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class XtfTestAttribute : Attribute
{
    /// <summary>Declares the test's info.json <c>name</c>, <c>category</c> and <c>environments</c> (one or more flags).</summary>
    /// <param name="name">The test name (XTF's directory name under <c>tests/</c>), unique in the catalog; instance ids are built from it.</param>
    /// <param name="category">The info.json category.</param>
    /// <param name="environments">The environments the test is built for; one instance per environment (and variation).</param>
    public XtfTestAttribute(string name, Category category, Environments environments)
    {
        Name = name;
        Category = category;
        Environments = environments;
    }

    /// <summary>info.json <c>name</c>: the <c>$NAME</c> in <c>test-$ENV-$NAME[~$VARIATION]</c>.</summary>
    public string Name { get; }

    /// <summary>info.json <c>category</c>; decides whether a selection without test names includes the test (<see cref="Categories.Default"/>).</summary>
    public Category Category { get; }

    /// <summary>info.json <c>environments</c>, as a set of <see cref="Environments"/> flags.</summary>
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

    /// <summary>
    /// Upstream's TEST-EXTRA-CFG (a test's <c>extra.cfg.in</c>): xl.cfg lines added to every
    /// instance's domain configuration, e.g. <c>viridian = 1</c>. Empty for none.
    /// </summary>
    public string ExtraConfig { get; init; } = "";
}
