using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.CpuidFaulting;

/// <summary>
/// XTF's cpuid-faulting (tests/cpuid-faulting/main.c): guest CPUID Faulting support. CPUID
/// Faulting, native on Intel IvyBridge and later, lets a kernel or hypervisor trap user-space
/// CPUID: MSR_INTEL_PLATFORM_INFO (0xCE) bit 31 says it is available, and with
/// MSR_INTEL_MISC_FEATURES_ENABLES (0x140) bit 0 set, CPUID at CPL &gt; 0 raises #GP(0). Xen
/// offers it to HVM guests even on hardware without it, and honours the native definition
/// exactly. Checked natively and through the forced emulation prefix (the emulator's CPUID must
/// fault the same way), at CPL 0 (never faults) and CPL 3, before enabling, while enabled and
/// after disabling. In the PV environments, as upstream, there is no FEP (Xen's forced invalid-op
/// path takes only CPUID): the PV-forced CPUID (<c>ud2a; "xen"; cpuid</c>) is checked instead, and
/// the guest kernel (ring 1 or ring 3) is what "never faults".
/// </summary>
[XtfTest("cpuid-faulting", Category.Functional, Environments.All, Title = "Guest CPUID Faulting support")]
public sealed class CpuidFaulting : TestCase
{
    private const uint MsrIntelPlatformInfo = 0xCE;
    private const uint MsrIntelMiscFeaturesEnables = 0x140;
    private const ulong MsrPlatformInfoCpuidFaulting = 1ul << 31;
    private const ulong MsrMiscFeaturesCpuidFaulting = 1ul << 0;

    public override void Main()
    {
        if (!Runtime.IsPv && !XtfHasFep)
            Skip("FEP support not detected - some tests will be skipped\n");

        // No faulting.  CPUID should work without faulting anywhere.
        Printk("Testing CPUID without faulting enabled\n");
        TestCpuid(expectFaulting: false);

        if (!TryRdmsr(MsrIntelPlatformInfo, out ulong platformInfo) || (platformInfo & MsrPlatformInfoCpuidFaulting) == 0)
        {
            Skip("Skip: CPUID Faulting unavailable\n");
            return;
        }

        if (!TryRdmsr(MsrIntelMiscFeaturesEnables, out ulong featuresEnable))
        {
            Error("Error: Fault accessing MISC_FEATURES_ENABLES\n");
            return;
        }

        if (!TryWrmsr(MsrIntelMiscFeaturesEnables, featuresEnable | MsrMiscFeaturesCpuidFaulting))
        {
            Failure("Fail: Unable to enable CPUID Faulting\n");
            return;
        }

        // Faulting active.  CPUID should fault outside of the kernel.
        Printk("Testing CPUID with faulting enabled\n");
        TestCpuid(expectFaulting: true);

        if (!TryWrmsr(MsrIntelMiscFeaturesEnables, featuresEnable))
        {
            Failure("Fail: Unable to disable CPUID Faulting\n");
            return;
        }

        // Double check that CPUID no longer faults.
        Printk("Retesting CPUID without faulting enabled\n");
        TestCpuid(expectFaulting: false);

        Success();
    }

    /// <summary>XTF's stub_cpuid / stub_force_cpuid: CPUID leaf 0, the fault recorded.</summary>
    private static void StubCpuid(Assembler a, bool fep)
    {
        a.xor(eax, eax);
        if (fep)
            a.Fep();
        a.cpuid();
    }

    private void TestCpuid(bool expectFaulting)
    {
        // Kernel CPUIDs should never fault.
        if (Exec(a => StubCpuid(a, fep: false)) != ExInfo.None)
            Failure("Fail: kernel cpuid faulted\n");

        if (Runtime.IsPv && Exec(a => StubCpuid(a, fep: true)) != ExInfo.None)
            Failure("Fail: kernel pv cpuid faulted\n");

        if (XtfHasFep && Exec(a => StubCpuid(a, fep: true)) != ExInfo.None)
            Failure("Fail: kernel emulated cpuid faulted\n");

        // User CPUIDs should raise #GP[0] if faulting is enabled.
        var expected = expectFaulting ? ExInfo.Fault(X86Vector.GP, 0) : ExInfo.None;
        string failure = expectFaulting ? "didn't fault" : "faulted";

        if (ExecUser(a => StubCpuid(a, fep: false)) != expected)
            Failure($"Fail: user cpuid {failure}\n");

        if (Runtime.IsPv && ExecUser(a => StubCpuid(a, fep: true)) != expected)
            Failure($"Fail: user pv cpuid {failure}\n");

        if (XtfHasFep && ExecUser(a => StubCpuid(a, fep: true)) != expected)
            Failure($"Fail: user emulated cpuid {failure}\n");
    }
}
