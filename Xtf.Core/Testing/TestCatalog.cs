using System.Reflection;
using Xtf.Core.Guest;
using Xtf.Core.Xen;

namespace Xtf.Core.Testing;

/// <summary>The tests found by <see cref="XtfTestAttribute"/> in the given assemblies, sorted by name.</summary>
public sealed class TestCatalog
{
    private readonly Dictionary<string, List<TestDescriptor>> byName;

    /// <summary>
    /// Scans every type of <paramref name="assemblies"/> (duplicates ignored) for <see cref="XtfTestAttribute"/>, as
    /// xtf-runner reads <c>tests/*/info.json</c>. Unlike xtf-runner, which ignores a bad info.json, a bad
    /// declaration throws <see cref="InvalidOperationException"/>: a marked type that is not a non-abstract
    /// <see cref="TestCase"/> with a public parameterless constructor, an unknown quirk in
    /// <see cref="XtfTestAttribute.Guards"/>, or two tests with one name.
    /// </summary>
    public TestCatalog(IEnumerable<Assembly> assemblies)
        : this(assemblies.Distinct().SelectMany(a => a.GetTypes()))
    {
    }

    private TestCatalog(IEnumerable<Type> types)
        : this(Describe(types))
    {
    }

    private TestCatalog(IEnumerable<TestDescriptor> tests)
    {
        Tests = [.. tests.OrderBy(t => t.Name, StringComparer.Ordinal).ThenBy(t => t.Upstream is null ? 0 : 1)];
        byName = [];
        foreach (var t in Tests)
        {
            var named = byName.TryGetValue(t.Name, out var list) ? list : byName[t.Name] = [];
            if (named.Find(o => o.Origin == t.Origin) is { } other)
                throw new InvalidOperationException($"two tests are named '{t.Name}': {Where(other)} and {Where(t)}");
            named.Add(t);
        }

        HasBothOrigins = Tests.Select(t => t.Origin).Distinct().Count() > 1;
    }

    private static string Where(TestDescriptor t) => t.Upstream is { } u ? u.Directory : t.Type!.FullName!;

    private static List<TestDescriptor> Describe(IEnumerable<Type> types)
    {
        var tests = new List<TestDescriptor>();
        foreach (var type in types.Distinct())
        {
            var attr = type.GetCustomAttribute<XtfTestAttribute>();
            if (attr is null)
                continue;
            if (!typeof(TestCase).IsAssignableFrom(type) || type.IsAbstract || type.GetConstructor(Type.EmptyTypes) is null)
                throw new InvalidOperationException($"{type.FullName}: [XtfTest] needs a non-abstract TestCase with a public parameterless constructor");
            var guards = new List<Quirk>();
            foreach (string name in attr.Guards)
            {
                if (!Xen.Quirks.TryParse(name, out var quirk))
                    throw new InvalidOperationException($"{type.FullName}: guards unknown quirk '{name}'");
                guards.Add(quirk);
            }

            tests.Add(new TestDescriptor(attr.Name, attr.Category, attr.Environments, attr.Title, attr.Variations, type) { Guards = guards, ExtraConfig = attr.ExtraConfig });
        }

        return tests;
    }

    /// <summary>A catalog of just these types (those without <see cref="XtfTestAttribute"/> are ignored), for hosts and tests that pick their own.</summary>
    public static TestCatalog FromTypes(params IEnumerable<Type> types) => new(types);

    /// <summary>A catalog of the given tests (C# ones and upstream images together, when both are given). A name may occur once per <see cref="TestDescriptor.Origin"/>; twice in one origin throws <see cref="InvalidOperationException"/>.</summary>
    public static TestCatalog FromDescriptors(IEnumerable<TestDescriptor> tests) => new(tests);

    /// <summary>Every test, sorted by name (ordinal), ours before an upstream one of the same name.</summary>
    public IReadOnlyList<TestDescriptor> Tests { get; }

    /// <summary>True when the catalog holds both our C# tests and upstream images: then reports say which an instance is.</summary>
    public bool HasBothOrigins { get; }

    /// <summary>The test named exactly <paramref name="name"/> (case-sensitive), or null; when both origins have one, ours.</summary>
    public TestDescriptor? Find(string name) => byName.GetValueOrDefault(name)?[0];

    /// <summary>Every test named exactly <paramref name="name"/>: one, or one per origin; empty if none.</summary>
    public IReadOnlyList<TestDescriptor> FindAll(string name) => byName.GetValueOrDefault(name) ?? [];

    /// <summary>Every instance of every test: by test name, then environment (xtf-runner order), then variation as declared.</summary>
    public IEnumerable<TestInstance> AllInstances() => Tests.SelectMany(t => t.Instances());
}
