using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.NullSs;

/// <summary>
/// The null-SS rule of 64-bit mode, natively and through the hypervisor's emulator (ours; no
/// upstream XTF test). SDM vol. 2, MOV: in 64-bit mode a null selector may be loaded into SS only
/// at CPL &lt; 3 and with RPL = CPL; otherwise #GP(0). Checks, natively and through the forced
/// emulation prefix: at CPL 3, <c>mov %ax, %ss</c> with the null selector 3 is #GP(0); at CPL 0,
/// the null selector 0 loads (and __KERN_DS is restored). It guards no quirk: this test used to
/// be filed as CVE-2017-2583, a bug of KVM's emulator (Linux 4.10, "MOV SS, null selector")
/// that Xen's x86_emulate never had, so no Xen commit describes a bug to re-create.
/// </summary>
[XtfTest("null-ss", Category.Functional, Environments.Hvm64, Title = "64-bit null SS loads")]
public sealed class NullSs : TestCase
{
    private const ushort NullRpl3 = 3;

    public override void Main()
    {
        TestUser(fep: false);
        TestKernel(fep: false);
        if (!XtfHasFep)
        {
            Skip("FEP support not detected - some tests will be skipped\n");
            return;
        }

        TestUser(fep: true);
        TestKernel(fep: true);
        Success();
    }

    private static string Name(bool fep) => fep ? "emulated " : "";

    /// <summary>CPL 3, 64-bit mode: a null SS selector (RPL 3) is #GP(0).</summary>
    private void TestUser(bool fep)
    {
        var fault = ExecUser(a =>
        {
            a.mov(eax, NullRpl3);
            if (fep)
                a.Fep();
            a.mov(ss, ax);
        });
        var expected = ExInfo.Fault(X86Vector.GP, 0);
        if (fault != expected)
            Failure($"Fail: {Name(fep)}'mov %ax, %ss' with a null selector at CPL 3: expected {expected}, got {fault}\n");
    }

    /// <summary>CPL 0, 64-bit mode: a null SS selector with RPL 0 loads without a fault.</summary>
    private void TestKernel(bool fep)
    {
        var fault = Exec(a =>
        {
            a.xor(eax, eax);
            if (fep)
                a.Fep();
            a.mov(ss, ax);
            a.mov(eax, (uint)HvmLayout.KernelDs);
            a.mov(ss, ax);
        });
        if (fault != ExInfo.None)
            Failure($"Fail: {Name(fep)}'mov %ax, %ss' with a null selector at CPL 0: got {fault}\n");
    }
}
