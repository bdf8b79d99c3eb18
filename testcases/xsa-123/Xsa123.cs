using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa123;

/// <summary>
/// XSA-123 (https://xenbits.xen.org/xsa/advisory-123.html). A destination operand is a memory
/// reference or a register; memory references have a segment (by default DS), registers do not.
/// Before the fix, an explicit segment override on an instruction with a register destination was
/// kept, stashed in a union that aliased the lower half of the pointer to the destination register
/// in the register block, so the emulator wrote hypervisor memory instead of the register.
/// This test forces <c>%cs:mov %reg, %reg</c> through the emulator: if the destination register
/// does not end up equal to the source, hypervisor memory was corrupted.
/// </summary>
[XtfTest("xsa-123", Category.Xsa, Environments.Hvm32, Title = "XSA-123 PoC", Guards = ["xsa-123"])]
public sealed class Xsa123 : TestCase
{
    private const byte CsOverride = 0x2E;

    protected override bool NeedsFep => true;

    public override void Main()
    {
        var regs = ExecDetailed(a =>
        {
            a.mov(ecx, 0x1234);
            a.xor(edx, edx);
            a.Fep();
            a.db(CsOverride);
            a.mov(edx, ecx);
        });

        if (regs.Fault != ExInfo.None || regs.Edx != 0x1234)
            Failure("  '%cs:mov %reg, %reg' clobbered hypervisor memory\n");
        else
            Success("  '%cs:mov %reg, %reg' was emulated correctly\n");
    }
}
