using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// MSR_DEBUGCTL (1D9H) as Xen exposes it. HVM (xen/arch/x86/hvm/vmx/vmx.c,
/// vmx_msr_read_intercept / vmx_msr_write_intercept): reads the guest's DEBUGCTL, 0 at start;
/// LBR and BTF are accepted (LBR kept on this Ivy Bridge signature, which has model-specific
/// LBRs); BTS bits (no vPMU), RTM (not in the policy) and every other bit are #GP(0). PV
/// (xen/arch/x86/pv/emul-priv-op.c, read_msr / write_msr): no case for it, so with msr_relaxed
/// off both are #GP(0) (XTF's tests/debug-regs notes "PV regressed MSR_DEBUGCTL").
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class DebugCtlGuestTests
{
    public sealed class HvmDebugCtlGuest : TestCase
    {
        public override void Main()
        {
            if (!TryRdmsr(DebugCtl.Msr, out ulong initial) || initial != 0)
                Failure("Fail: MSR_DEBUGCTL did not read 0\n");
            else if (!TryWrmsr(DebugCtl.Msr, DebugCtl.Lbr | DebugCtl.Btf) || !TryRdmsr(DebugCtl.Msr, out ulong set) || set != (DebugCtl.Lbr | DebugCtl.Btf))
                Failure("Fail: LBR|BTF did not read back\n");
            else if (TryWrmsr(DebugCtl.Msr, DebugCtl.Bts) || TryWrmsr(DebugCtl.Msr, DebugCtl.Rtm) || TryWrmsr(DebugCtl.Msr, 1ul << 2))
                Failure("Fail: a reserved DEBUGCTL bit was accepted\n");
            else if (!TryWrmsr(DebugCtl.Msr, 0) || !TryRdmsr(DebugCtl.Msr, out ulong clear) || clear != 0)
                Failure("Fail: DEBUGCTL did not clear\n");
            else
                Success();
        }
    }

    public sealed class PvDebugCtlGuest : TestCase
    {
        public override void Main()
        {
            if (TryRdmsr(DebugCtl.Msr, out _))
                Failure("Fail: PV RDMSR of MSR_DEBUGCTL did not fault\n");
            else if (TryWrmsr(DebugCtl.Msr, 0))
                Failure("Fail: PV WRMSR of MSR_DEBUGCTL did not fault\n");
            else
                Success();
        }
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pse)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    public void HvmDebugCtlFollowsVmxIntercept(Environments env)
    {
        var o = GuestHarness.Run<HvmDebugCtlGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [TestCase(Environments.Pv32Pae)]
    [TestCase(Environments.Pv64)]
    public void PvDebugCtlIsGp(Environments env)
    {
        var o = GuestHarness.Run<PvDebugCtlGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [TestCase(0x000306A9u, ExpectedResult = true, TestName = "Xen get_model_specific_lbr: family 6 model 0x3A (Ivy Bridge) has nh_lbr")]
    [TestCase(0x000806C1u, ExpectedResult = true, TestName = "Xen get_model_specific_lbr: family 6 model 0x8C (Tiger Lake) has sk_lbr")]
    [TestCase(0x000906A3u, ExpectedResult = false, TestName = "Xen get_model_specific_lbr: family 6 model 0x9A (Alder Lake) has none")]
    [TestCase(0x00000F41u, ExpectedResult = true, TestName = "Xen get_model_specific_lbr: family 15 model 4 (Pentium 4) has p4_lbr")]
    public bool ModelSpecificLbr(uint signature) => Xtf.Core.Xen.HvmDomain.HasModelSpecificLbr(signature);
}
