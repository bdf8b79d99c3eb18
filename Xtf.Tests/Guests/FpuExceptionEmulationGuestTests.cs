using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// fpu-exception-emulation in each HVM environment: every CR0.EM/MP/TS cell of the x87, WAIT, MMX
/// and SSE sets (SDM vol. 3, table 2-2, table 12-1 and table 13-1) as the guest sees it natively,
/// and through the hypervisor's emulator when FEP is available. AVX is not reported by the CPU,
/// so its sets are skipped as on hardware without AVX.
/// </summary>
[TestFixture]
public sealed class FpuExceptionEmulationGuestTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.FpuExceptionEmulation.FpuExceptionEmulation).Assembly]);

    private const string NoFep = "FEP support not detected - some tests will be skipped";

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pse)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    public void EveryEnablingCellBehavesAsTheSdmSays(Environments env)
    {
        var instance = Catalog.AllInstances().Single(i => i.Test.Name == "fpu-exception-emulation" && i.Environment == env);
        var outcome = new TestEngine().Run(instance, new RunSettings { InstructionBudget = 20_000_000 });
        string log = outcome.ConsoleLog;

        Assert.Multiple(() =>
        {
            Assert.That(log, Does.Contain("Testing x87\r\n").And.Contain("Testing x87 wait\r\n").And.Contain("Testing MMX\r\n")
                .And.Contain("Testing SSE\r\n").And.Contain("Testing SSE (CR4.OSFXSR)\r\n"), "the native sets ran");
            Assert.That(log, Does.Not.Contain("Expected"), "no cell disagreed");
            Assert.That(log, Does.Not.Contain("AVX"), "AVX is not reported, so its sets do not run");

            // With the hypervisor's emulator reachable through FEP, the emulated sets run too and
            // the result is SUCCESS; without it the test SKIPs with XTF's message, as XTF does.
            if (log.Contains(NoFep, StringComparison.Ordinal))
            {
                Assert.That(outcome.Result, Is.EqualTo(TestResult.Skip), log + outcome.Diagnostic);
            }
            else
            {
                Assert.That(outcome.Result, Is.EqualTo(TestResult.Success), log + outcome.Diagnostic);
                Assert.That(log, Does.Contain("Testing emulated x87\r\n").And.Contain("Testing emulated SSE (CR4.OSFXSR)\r\n"));
            }
        });
    }
}
