using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// TryRdmsr/TryWrmsr (XTF's rdmsr_safe/wrmsr_safe) in every HVM environment: an MSR the processor
/// has reads and writes; one it does not have is #GP(0) (SDM: RDMSR, WRMSR), reported as false.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class MsrGuestTests
{
    public sealed class MsrGuest : TestCase
    {
        public override void Main()
        {
            // IA32_SYSENTER_ESP (0x175) exists on every processor with SEP and holds what is written.
            if (!TryWrmsr(X86Cpu.MsrSysenterEsp, 0x12345678) || !TryRdmsr(X86Cpu.MsrSysenterEsp, out ulong value) || value != 0x12345678)
                Failure("Fail: IA32_SYSENTER_ESP did not read back\n");
            else if (TryRdmsr(0xDEADBEEF, out ulong none) || none != 0)
                Failure("Fail: RDMSR of a missing MSR did not fault\n");
            else if (TryWrmsr(0xDEADBEEF, 1))
                Failure("Fail: WRMSR of a missing MSR did not fault\n");
            else
                Success();
        }
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pse)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    public void TryRdmsrAndTryWrmsrReportFaults(Environments env)
    {
        var o = GuestHarness.Run<MsrGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }
}
