using Xtf.Core.Guest;
using Xtf.Core.Testing.Upstream;
using Xtf.Core.Xen;

namespace Xtf.Core.Testing;

/// <summary>One test in the catalog: its metadata and the type that implements it.</summary>
/// <param name="Name">info.json <c>name</c> (<see cref="XtfTestAttribute.Name"/>).</param>
/// <param name="Category">info.json <c>category</c>.</param>
/// <param name="Environments">info.json <c>environments</c>, as flags.</param>
/// <param name="Title">The title line printed after the banner; empty if none.</param>
/// <param name="Variations">info.json <c>variations</c>, in declaration order; empty for a test without variations.</param>
/// <param name="Type">The <see cref="TestCase"/> subclass; each instance runs a fresh object of it. Null for an upstream image (<see cref="Upstream"/>).</param>
public sealed record TestDescriptor(
    string Name,
    Category Category,
    Environments Environments,
    string Title,
    IReadOnlyList<string> Variations,
    Type? Type)
{
    /// <summary>The quirks this test guards against (<see cref="XtfTestAttribute.Guards"/>).</summary>
    public IReadOnlyList<Quirk> Guards { get; init; } = [];

    /// <summary>Upstream's extra.cfg.in for the test (<see cref="XtfTestAttribute.ExtraConfig"/>): xl.cfg lines for every instance's domain.</summary>
    public string ExtraConfig { get; init; } = "";

    /// <summary>For a test of an upstream XTF tree (<c>--xtf-dir</c>): where its images and cfg files are. Null for our C# tests.</summary>
    public UpstreamTest? Upstream { get; init; }

    /// <summary>Where the test comes from: <c>xtf.net</c> (a C# test case) or <c>upstream</c> (an upstream image).</summary>
    public string Origin => Upstream is null ? BuiltinOrigin : UpstreamOrigin;

    /// <summary><see cref="Origin"/> of our C# test cases.</summary>
    public const string BuiltinOrigin = "xtf.net";

    /// <summary><see cref="Origin"/> of upstream images.</summary>
    public const string UpstreamOrigin = "upstream";

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
/// <param name="Test">The test this is an instance of.</param>
/// <param name="Environment">A single environment (one flag), one of the test's.</param>
/// <param name="Variation">One of the test's variations, or null for a test without variations.</param>
public sealed record TestInstance(TestDescriptor Test, Environments Environment, string? Variation)
{
    /// <summary>xtf-runner's instance name (<c>TestInstance.__repr__</c>): <c>test-hvm64-example</c>, <c>test-pv64-foo~bar</c>; also the JUnit testcase name.</summary>
    public string Id => $"test-{GuestEnvironment.Name(Environment)}-{Test.Name}" + (Variation is null ? "" : $"~{Variation}");

    /// <summary>The <see cref="Id"/>.</summary>
    public override string ToString() => Id;
}
