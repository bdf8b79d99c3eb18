using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Guests;

/// <summary>
/// XTF's xsa-196 in hvm64: <c>int $8</c> from compatibility-mode user code, forced through the
/// emulator, must be #GP(IDT[8]) because the #DF gate (16 bytes in IA-32e mode) has DPL 0.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class Xsa196Tests
{
    private static readonly TestDescriptor Test = TestCatalog.FromTypes(typeof(Xtf.TestCases.Xsa196.Xsa196)).Find("xsa-196")
        ?? throw new InvalidOperationException("xsa-196 not in the catalog");

    private static InstanceOutcome Run(RunSettings settings) => new TestEngine().Run(new TestInstance(Test, Environments.Hvm64, null), settings);

    [Test]
    public void CompatibilityModeIntThroughTheDpl0DoubleFaultGateIsGp()
    {
        var o = Run(new RunSettings());
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("Success: #DF DPL was checked correctly\r\n"));
    }

    /// <summary>With the quirk the emulator reads 8 * 8: the low half of the DPL 3 #OF gate, and lets the interrupt through.</summary>
    [Test]
    public void WithTheXsa196QuirkUserspaceReachesTheDoubleFaultHandler()
    {
        var o = Run(new RunSettings { Quirks = new HashSet<Quirk> { Quirk.Xsa196 } });
        Assert.That(o.Result, Is.EqualTo(TestResult.Failure), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("Fail: Userspace managed to invoke #DF\r\n"));
    }

    /// <summary>XTF's test_needs_fep: the test is about the emulator only, and skips without FEP.</summary>
    [Test]
    public void WithoutFepTheTestSkips()
    {
        var o = Run(new RunSettings { Fep = false });
        Assert.That(o.Result, Is.EqualTo(TestResult.Skip), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("FEP unavailable, but needed by test."));
    }
}
