using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.TestCases;

namespace Xtf.Tests.Guests;

/// <summary>
/// The ported tests xsa-195, xsa-200, xsa-186, invlpg and lm-ts without FEP (XTF's SKIP message
/// after the native part, or test_needs_fep's) and how each quirk shows in the guest's log.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class EmulatorBoundaryTestCaseTests
{
    private static readonly TestCatalog Catalog = new([typeof(TestCasesAssembly).Assembly]);

    private static InstanceOutcome Run(string name, Environments env, RunSettings settings)
    {
        var test = Catalog.Find(name) ?? throw new AssertionException($"{name} not in the catalog");
        return new TestEngine().Run(new TestInstance(test, env, null), settings);
    }

    private static RunSettings Quirk(Quirk q) => new() { Quirks = new HashSet<Quirk> { q } };

    [TestCase("invlpg", Environments.Hvm32)]
    [TestCase("invlpg", Environments.Hvm32Pae)]
    [TestCase("invlpg", Environments.Hvm64)]
    [TestCase("lm-ts", Environments.Hvm32)]
    [TestCase("lm-ts", Environments.Hvm64)]
    public void FunctionalTestsWithoutFepPass(string name, Environments env)
    {
        var o = Run(name, env, new RunSettings { Fep = false });
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [Test]
    public void Xsa195WithoutFepRunsTheNativeBtThenSkips()
    {
        var o = Run("xsa-195", Environments.Hvm64, new RunSettings { Fep = false });
        Assert.That(o.Result, Is.EqualTo(TestResult.Skip), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("FEP support not detected - some tests will be skipped\r\n"));
        Assert.That(o.ConsoleLog, Does.Not.Contain("Fail"));
    }

    [TestCase("xsa-200", Environments.Hvm32)]
    [TestCase("xsa-186", Environments.Hvm32)]
    [TestCase("xsa-186", Environments.Hvm64)]
    public void FepOnlyTestsSkipWithXtfsMessage(string name, Environments env)
    {
        var o = Run(name, env, new RunSettings { Fep = false });
        Assert.That(o.Result, Is.EqualTo(TestResult.Skip), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("FEP unavailable, but needed by test."));
    }

    /// <summary>The vulnerable emulator reads 2^47 - 8 - 2^32 (the displacement cut to 32 bits), which is not mapped.</summary>
    [Test]
    public void Xsa195QuirkReadsAtTheTruncatedDisplacement()
    {
        var o = Run("xsa-195", Environments.Hvm64, Quirk(Xtf.Core.Xen.Quirk.Xsa195));
        Assert.That(o.Result, Is.EqualTo(TestResult.Failure), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("Fail: emulated bt took #PF[-d-sr-]"));
    }

    [Test]
    public void Xsa200QuirkLeaksIntoEdx()
    {
        var o = Run("xsa-200", Environments.Hvm32, Quirk(Xtf.Core.Xen.Quirk.Xsa200));
        Assert.That(o.ConsoleLog, Does.Contain("Fail: Hypervisor stack leaked into guest"));
    }

    /// <summary>Only the 16-bit stub is affected: the 32/64-bit wrap is not a 16-bit truncation.</summary>
    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void Xsa186QuirkBreaksOnlyThe16BitStub(Environments env)
    {
        var o = Run("xsa-186", env, Quirk(Xtf.Core.Xen.Quirk.Xsa186));
        Assert.That(o.ConsoleLog, Does.Contain("Fail: 16bit code wasn't executed correctly"));
        Assert.That(o.ConsoleLog, Does.Not.Contain("Instruction stub wasn't executed correctly"));
    }
}
