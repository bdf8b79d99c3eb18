using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.TestCases;

namespace Xtf.Tests.Upstream;

/// <summary>
/// Every test ported from upstream XTF carries upstream's metadata, so `-a`, `--non-default` and
/// `--host` select what upstream's runner selects. The expected values are upstream's: the
/// <c>CATEGORY</c>, <c>TEST-ENVS</c> and <c>VARIATIONS</c> of each <c>tests/NAME/Makefile</c> at
/// upstream XTF commit 453490d (as its generated <c>info.json</c> has them). A test of ours that
/// upstream does not have is listed as such, so a new port must be added here.
/// </summary>
[TestFixture]
public sealed class PortedMetadataTests
{
    private static readonly Dictionary<string, (string Category, string[] Environments, string[] Variations)> Upstream = new()
    {
        ["cpuid"] = ("utility", ["pv64", "pv32pae", "hvm64", "hvm32pae", "hvm32pse", "hvm32"], []),
        ["cpuid-faulting"] = ("functional", ["pv64", "pv32pae", "hvm64", "hvm32pae", "hvm32pse", "hvm32"], []),
        ["example"] = ("special", ["pv64", "pv32pae", "hvm64", "hvm32pae", "hvm32pse", "hvm32"], []),
        ["fep"] = ("utility", ["hvm32"], []),
        ["fpu-exception-emulation"] = ("functional", ["hvm64"], []),
        ["invlpg"] = ("functional", ["hvm32", "hvm32pae", "hvm64"], ["hap", "shadow"]),
        ["lm-ts"] = ("functional", ["hvm32", "hvm64"], []),
        ["memop-seg"] = ("functional", ["pv32pae", "pv64", "hvm32pae", "hvm64"], []),
        ["pv-iopl"] = ("functional", ["pv64", "pv32pae"], ["hypercall", "vmassist"]),
        ["selftest"] = ("special", ["pv64", "pv32pae", "hvm64", "hvm32pae", "hvm32pse", "hvm32"], []),
        ["swint-emulation"] = ("functional", ["hvm64", "hvm32pae", "hvm32pse", "hvm32"], []),
        ["umip"] = ("functional", ["hvm32", "hvm64"], []),
        ["xsa-123"] = ("xsa", ["hvm32"], []),
        ["xsa-186"] = ("xsa", ["hvm32", "hvm64"], []),
        ["xsa-191"] = ("xsa", ["hvm32"], []),
        ["xsa-195"] = ("xsa", ["hvm64"], []),
        ["xsa-196"] = ("xsa", ["hvm64"], []),
        ["xsa-200"] = ("xsa", ["hvm32"], []),
        ["xsa-204"] = ("xsa", ["hvm64"], []),
        ["xsa-213"] = ("xsa", ["pv32pae", "pv64"], []),
    };

    /// <summary>
    /// Ours alone: written here (cpu-privilege, mmu-batch, null-ss, pagetable-access, popf-iopl,
    /// ring-compression, userspace-hypercalls), or gone from upstream (xsa-105 and xsa-110 were
    /// dropped there).
    /// </summary>
    private static readonly string[] OursAlone =
    [
        "cpu-privilege", "mmu-batch", "null-ss", "pagetable-access", "popf-iopl", "ring-compression",
        "userspace-hypercalls", "xsa-105", "xsa-110",
    ];

    private static readonly TestCatalog Catalog = new([typeof(TestCasesAssembly).Assembly]);

    public static IEnumerable<TestCaseData> Ported() =>
        Upstream.Keys.Select(name => new TestCaseData(name).SetName($"{name} has upstream's category, environments and variations"));

    [TestCaseSource(nameof(Ported))]
    public void MatchesUpstream(string name)
    {
        var test = Catalog.Find(name) ?? throw new AssertionException($"{name} is not in our catalog");
        var (category, environments, variations) = Upstream[name];
        Assert.Multiple(() =>
        {
            Assert.That(Categories.Name(test.Category), Is.EqualTo(category), "category");
            Assert.That(GuestEnvironment.Expand(test.Environments).Select(GuestEnvironment.Name), Is.EquivalentTo(environments), "environments");
            Assert.That(test.Variations, Is.EqualTo(variations), "variations, in order");
        });
    }

    [Test]
    public void EveryTestIsPortedOrOursAlone()
    {
        var names = Catalog.Tests.Select(t => t.Name).ToArray();
        Assert.That(names.Except(Upstream.Keys).Order(), Is.EqualTo(OursAlone.Order()));
    }
}
