using Xtf.Core.Guest;
using Xtf.Core.Xen;

namespace Xtf.Core.Testing;

/// <summary>One test in the catalog: its metadata and the type that implements it.</summary>
public sealed record TestDescriptor(
    string Name,
    Category Category,
    Environments Environments,
    string Title,
    IReadOnlyList<string> Variations,
    Type Type)
{
    /// <summary>The quirks this test guards against (<see cref="XtfTestAttribute.Guards"/>).</summary>
    public IReadOnlyList<Quirk> Guards { get; init; } = [];

    /// <summary>All instances of this test: every environment times every variation (or none).</summary>
    public IEnumerable<TestInstance> Instances()
    {
        foreach (var env in GuestEnvironment.Expand(Environments))
        {
            if (Variations.Count == 0)
            {
                yield return new TestInstance(this, env, null);
                continue;
            }

            foreach (var v in Variations)
                yield return new TestInstance(this, env, v);
        }
    }
}

/// <summary>A test in one environment and variation: <c>test-&lt;env&gt;-&lt;name&gt;[~&lt;variation&gt;]</c>.</summary>
public sealed record TestInstance(TestDescriptor Test, Environments Environment, string? Variation)
{
    public string Id => $"test-{GuestEnvironment.Name(Environment)}-{Test.Name}" + (Variation is null ? "" : $"~{Variation}");

    public override string ToString() => Id;
}
