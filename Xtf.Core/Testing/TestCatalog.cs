using System.Reflection;
using Xtf.Core.Guest;
using Xtf.Core.Xen;

namespace Xtf.Core.Testing;

/// <summary>The tests found by <see cref="XtfTestAttribute"/> in the given assemblies, sorted by name.</summary>
public sealed class TestCatalog
{
    private readonly Dictionary<string, TestDescriptor> byName;

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

            tests.Add(new TestDescriptor(attr.Name, attr.Category, attr.Environments, attr.Title, attr.Variations, type) { Guards = guards });
        }

        Tests = [.. tests.OrderBy(t => t.Name, StringComparer.Ordinal)];
        byName = [];
        foreach (var t in Tests)
        {
            if (!byName.TryAdd(t.Name, t))
                throw new InvalidOperationException($"two tests are named '{t.Name}'");
        }
    }

    /// <summary>A catalog of just these types (those without <see cref="XtfTestAttribute"/> are ignored), for hosts and tests that pick their own.</summary>
    public static TestCatalog FromTypes(params IEnumerable<Type> types) => new(types);

    /// <summary>Every test, sorted by name (ordinal).</summary>
    public IReadOnlyList<TestDescriptor> Tests { get; }

    /// <summary>The test named exactly <paramref name="name"/> (case-sensitive), or null.</summary>
    public TestDescriptor? Find(string name) => byName.GetValueOrDefault(name);

    /// <summary>Every instance of every test: by test name, then environment (xtf-runner order), then variation as declared.</summary>
    public IEnumerable<TestInstance> AllInstances() => Tests.SelectMany(t => t.Instances());
}
