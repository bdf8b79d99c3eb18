using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Guests;

/// <summary>
/// XTF's swint-emulation in every HVM environment: INT3, INT 3, ICEBP, INT 1 and INTO, with and
/// without a redundant 67 prefix, natively and through the hypervisor's emulator, at CPL 0 and 3,
/// against present, absent and DPL 0 gates, each exception checked in the exception log.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class SwintEmulationTests
{
    private static readonly Environments[] HvmEnvironments = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];

    private static readonly TestDescriptor Test = TestCatalog.FromTypes(typeof(Xtf.TestCases.SwintEmulation.SwintEmulation)).Find("swint-emulation")
        ?? throw new InvalidOperationException("swint-emulation not in the catalog");

    /// <summary>Five conditions (CPL 0: ok, p=0; CPL 3: ok, p=0, dpl=0) of five instructions each.</summary>
    private const int Sequences = 25;

    private static InstanceOutcome Run(Environments env, RunSettings settings) =>
        new TestEngine().Run(new TestInstance(Test, env, null), settings with { InstructionBudget = 20_000_000 });

    private static int Count(string log, string text) => log.Split(text).Length - 1;

    [TestCaseSource(nameof(HvmEnvironments))]
    public void NativeAndEmulatedSoftwareInterruptsAgreeWithTheSdm(Environments env)
    {
        var o = Run(env, new RunSettings());
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        Assert.That(Count(o.ConsoleLog, "  Testing "), Is.EqualTo(Sequences), o.ConsoleLog);
        Assert.That(o.ConsoleLog, Does.Not.Contain("Fail"));
    }

    /// <summary>XTF's test_main: without FEP the native stubs still run (and pass), then the result is SKIP.</summary>
    [TestCaseSource(nameof(HvmEnvironments))]
    public void WithoutFepTheNativeHalfRunsAndTheTestSkips(Environments env)
    {
        var o = Run(env, new RunSettings { Fep = false });
        Assert.That(o.Result, Is.EqualTo(TestResult.Skip), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain("FEP support not detected - some tests will be skipped\r\n"));
        Assert.That(Count(o.ConsoleLog, "  Testing "), Is.EqualTo(Sequences), o.ConsoleLog);
        Assert.That(o.ConsoleLog, Does.Not.Contain("Fail"));
    }

    /// <summary>
    /// XSA-106: the emulator injects INT3, INT n and INTO from CPL 3 through a DPL 0 gate
    /// without the DPL check, so exactly the forced stubs of the CPL 3 dpl=0 condition fail
    /// (INTO only in 32-bit code; ICEBP makes no DPL check anyway).
    /// </summary>
    [TestCaseSource(nameof(HvmEnvironments))]
    public void Xsa106FailsExactlyTheEmulatedCpl3Dpl0Cases(Environments env)
    {
        var o = Run(env, new RunSettings { Quirks = new HashSet<Quirk> { Quirk.Xsa106 } });
        Assert.That(o.Result, Is.EqualTo(TestResult.Failure), o.ConsoleLog + o.Diagnostic);
        int instructions = env == Environments.Hvm64 ? 3 : 4;
        Assert.That(Count(o.ConsoleLog, "Fail forced:"), Is.EqualTo(instructions), o.ConsoleLog);
        Assert.That(Count(o.ConsoleLog, "Fail forced redundant:"), Is.EqualTo(instructions), o.ConsoleLog);
        Assert.That(Count(o.ConsoleLog, "Fail "), Is.EqualTo(2 * instructions), o.ConsoleLog);
        string dpl0 = o.ConsoleLog[o.ConsoleLog.IndexOf("Test cpl3: dpl=0", StringComparison.Ordinal)..];
        Assert.That(Count(dpl0, "Fail "), Is.EqualTo(2 * instructions), o.ConsoleLog);
    }
}
