using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// fpu-exception-emulation (upstream's is hvm64 only; the same guest also runs in the 32-bit HVM
/// environments here, as a check of the CPU and the emulator in those modes): every CR0.EM/MP/TS cell of the x87, WAIT, MMX
/// and SSE sets (SDM vol. 3, table 2-2, table 12-1 and table 13-1) natively, and through the
/// hypervisor's emulator when FEP is on. AVX is not reported by the CPU, so its sets do not run,
/// as on hardware without AVX.
/// </summary>
[TestFixture]
public sealed class FpuExceptionEmulationGuestTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.FpuExceptionEmulation.FpuExceptionEmulation).Assembly]);

    private static InstanceOutcome Run(Environments env, bool fep)
    {
        var test = Catalog.Find("fpu-exception-emulation") ?? throw new AssertionException("fpu-exception-emulation not in the catalog");
        var instance = new TestInstance(test with { Environments = env }, env, null);
        return new TestEngine().Run(instance, new RunSettings { InstructionBudget = 20_000_000, Fep = fep });
    }

    private static void AssertNativeSetsRan(string log)
    {
        Assert.That(log, Does.Contain("Testing x87\r\n").And.Contain("Testing x87 wait\r\n").And.Contain("Testing MMX\r\n")
            .And.Contain("Testing SSE\r\n").And.Contain("Testing SSE (CR4.OSFXSR)\r\n"), "the native sets ran");
        Assert.That(log, Does.Not.Contain("Expected"), "no cell disagreed");
        Assert.That(log, Does.Not.Contain("AVX"), "AVX is not reported, so its sets do not run");
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pse)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    public void WithFepEveryCellPassesNativelyAndEmulated(Environments env)
    {
        var outcome = Run(env, fep: true);
        string log = outcome.ConsoleLog;
        Assert.Multiple(() =>
        {
            AssertNativeSetsRan(log);
            Assert.That(log, Does.Contain("Testing emulated x87\r\n").And.Contain("Testing emulated x87 wait\r\n")
                .And.Contain("Testing emulated MMX\r\n").And.Contain("Testing emulated SSE\r\n")
                .And.Contain("Testing emulated SSE (CR4.OSFXSR)\r\n"), "the emulated sets ran");
            Assert.That(outcome.Result, Is.EqualTo(TestResult.Success), log + outcome.Diagnostic);
        });
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void WithoutFepTheNativeSetsPassAndTheTestSkipsWithXtfsMessage(Environments env)
    {
        var outcome = Run(env, fep: false);
        string log = outcome.ConsoleLog;
        Assert.Multiple(() =>
        {
            AssertNativeSetsRan(log);
            Assert.That(log, Does.Contain("FEP support not detected - some tests will be skipped\r\n"));
            Assert.That(log, Does.Not.Contain("emulated"));
            Assert.That(outcome.Result, Is.EqualTo(TestResult.Skip), log + outcome.Diagnostic);
        });
    }
}
