using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa191;

/// <summary>
/// XSA-191 (http://xenbits.xen.org/xsa/advisory-191.html). Before the fix, Xen's emulator used
/// segments that are not eligible for use as if they were: memory accesses through a data segment
/// register loaded with a null selector, and descriptor loads from the LDT after LDTR was loaded
/// with null. What a null load leaves in the hidden part of a segment register differs between
/// vendors (AMD keeps base and limit and clears the attributes; Intel zeroes the base, sets the
/// limit to its maximum and the attributes to a constant), so stale state could be used.
/// Two scenarios must each #GP (SDM vol. 3, 5.4.1; vol. 2, MOV): a read through a null %fs, and
/// <c>mov %reg, %fs</c> with an LDT selector once a real LDT was replaced by a null LDTR.
/// </summary>
[XtfTest("xsa-191", Category.Xsa, Environments.Hvm32, Title = "XSA-191 PoC", Guards = ["xsa-191"])]
public sealed class Xsa191 : TestCase
{
    private const int LdtEntry = HvmLayout.GdteAvail0;

    /// <summary>A one-entry LDT in the test's scratch page: a copy of __KERN_DS.</summary>
    private const uint Ldt = (uint)HvmLayout.Scratch + 0x800;

    /// <summary>LDT entry 0, RPL 0: SEL_EC_SYM(0, LDT) as an error code.</summary>
    private const ushort LdtSelector = 4;

    protected override bool NeedsFep => true;

    public override void Main()
    {
        Printk("Testing read through NULL segment:\n");
        var fault = Exec(a =>
        {
            a.xor(eax, eax);
            a.mov(fs, ax);
            a.Fep();
            a.mov(eax, __dword_ptr.fs[0]);
        });
        RestoreFs();
        Report(fault, ExInfo.Fault(X86Vector.GP, 0), "  Fail: Access via NULL segment didn't fault\n");

        Printk("Testing stale LDT:\n");
        ulong kernelDs = SegmentDescriptor.Data32(0).Raw;
        SetGdtEntry(LdtEntry, SegmentDescriptor.System(SystemDescriptorType.Ldt, Ldt, 7));
        fault = Exec(a =>
        {
            a.mov(__dword_ptr[Ldt], (uint)kernelDs);
            a.mov(__dword_ptr[Ldt + 4], (uint)(kernelDs >> 32));
            a.mov(eax, LdtEntry << 3);
            a.lldt(ax);
            a.xor(eax, eax);
            a.lldt(ax);
            a.mov(eax, LdtSelector);
            a.Fep();
            a.mov(fs, ax);
        });
        RestoreFs();
        Report(fault, ExInfo.Fault(X86Vector.GP, LdtSelector), "  Fail: Loaded selector from stale LDT\n");

        Success();
    }

    private void Report(ExInfo fault, ExInfo expected, string failure)
    {
        if (fault == ExInfo.None)
            Failure(failure);
        else if (fault == expected)
            Printk("  Success: Got #GP fault\n");
        else
            Error($"  Error: Unexpected fault {fault.Raw:#x}, {fault}\n");
    }

    private void RestoreFs() => Exec(a =>
    {
        a.mov(eax, (uint)HvmLayout.UserDs);
        a.mov(fs, ax);
    });
}
