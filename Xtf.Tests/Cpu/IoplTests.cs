using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;
using static Xtf.Tests.Cpu.DescriptorKit;

namespace Xtf.Tests.Cpu;

/// <summary>IOPL-sensitive flag instructions (SDM vol. 2, CLI, STI, PUSHF, POPF; vol. 3, 20.4 for PVI).</summary>
[TestFixture]
public sealed class IoplTests
{
    /// <summary>Runs user code that ends with INT 0x81; returns the EFLAGS image the exit saved.</summary>
    private static uint UserFlags(Action<Iced.Intel.Assembler> code, uint flags, bool pvi = false)
    {
        var h = RunUser(a =>
        {
            code(a);
            a.@int(CpuHarness.ExitVector);
        }, pvi ? h => h.Cpu.Cr4Value |= Cr4.PVI : null, flags);
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "no fault");
        return h.Frame(2);
    }

    [TestCase(TestName = "STI at CPL 3 with IOPL 3 sets IF")]
    public void StiAtIopl3() =>
        Assert.That(UserFlags(a => a.sti(), Reserved1 | IOPL) & IF, Is.EqualTo(IF));

    [TestCase(TestName = "CLI at CPL 3 with IOPL 0 and CR4.PVI clears VIF instead of faulting, IF unchanged")]
    public void CliWithPviClearsVif()
    {
        uint f = UserFlags(a => a.cli(), Reserved1 | IF | VIF, pvi: true);
        Assert.That(f & (IF | VIF), Is.EqualTo(IF));
    }

    [TestCase(TestName = "STI at CPL 3 with IOPL 0 and CR4.PVI sets VIF, IF unchanged")]
    public void StiWithPviSetsVif()
    {
        uint f = UserFlags(a => a.sti(), Reserved1, pvi: true);
        Assert.That(f & (IF | VIF), Is.EqualTo(VIF));
    }

    [TestCase(TestName = "STI at CPL 3 with CR4.PVI but VIP set raises #GP(0)")]
    public void StiWithPviAndVipFaults()
    {
        // VIP is set in EFLAGS and in the IRETD frame (SDM: IRET at CPL 0 loads VIF and VIP from a 32-bit frame).
        var h = RunUser(a => a.sti(), h => h.Cpu.Cr4Value |= Cr4.PVI, Reserved1 | VIP, kernelFlags: Reserved1 | VIP);
        AssertUserFault(h, X86Vector.GP, 0);
    }

    [TestCase(TestName = "POPF (16-bit) at CPL 3 with IOPL 0 changes the low status flags, leaves IF and IOPL")]
    public void Popf16AtCpl3()
    {
        uint f = UserFlags(a =>
        {
            a.push((short)(IOPL | CF | Reserved1)); // 66 6A: a 16-bit image with IF = 0, IOPL = 3
            a.popf();
        }, Reserved1 | IF);
        Assert.That(f, Is.EqualTo(Reserved1 | IF | CF));
    }

    [TestCase(TestName = "POPFD at CPL 3 leaves VM, VIF and VIP unchanged and clears RF; AC and ID change")]
    public void PopfdKeepsVirtualFlags()
    {
        uint f = UserFlags(a =>
        {
            a.push(Reserved1 | VM | VIF | VIP | AC | ID | RF);
            a.popfd();
        }, Reserved1);
        Assert.That(f, Is.EqualTo(Reserved1 | AC | ID));
    }

    [TestCase(TestName = "POPFD at CPL 0 changes IOPL and IF")]
    public void PopfdAtCpl0()
    {
        var h = RunKernel(a =>
        {
            a.push(Reserved1 | IOPL | IF);
            a.popfd();
            a.pushfd();
            a.pop(ebx);
            a.hlt();
        });
        Assert.That(h.Cpu.Ebx, Is.EqualTo(Reserved1 | IOPL | IF));
    }

    [TestCase(TestName = "POPFD at CPL 1 with IOPL 1 changes IF but not IOPL")]
    public void PopfdAtCpl1()
    {
        // Enter CPL 1 through a DPL1 code and stack pair with IRETD, IOPL 1 in the frame.
        var h = RunKernel(a =>
        {
            a.push(Sel9 | 1);
            a.push(0x7000);
            a.push(Reserved1 | (1u << IoplShift) | IF);
            a.push(Sel8 | 1);
            a.push(TargetCode);
            a.iretd();
        }, h =>
        {
            SetDescriptor(h, 8, Flat(0xB, 1));
            SetDescriptor(h, 9, Flat(0x3, 1));
            h.Load(TargetCode, a =>
            {
                a.push(Reserved1 | IOPL);
                a.popfd();
                a.pushfd();
                a.pop(ebx);
                a.@int(CpuHarness.ExitVector);
            });
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Ebx, Is.EqualTo(Reserved1 | (1u << IoplShift)), "IF cleared (CPL <= IOPL), IOPL still 1");
        });
    }

    [TestCase(TestName = "PUSHFD stores the image with RF and VM clear")]
    public void PushfdClearsRf()
    {
        var h = RunKernel(a =>
        {
            a.pushfd();
            a.pop(ebx);
            a.hlt();
        }, eflags: Reserved1 | RF | CF);
        Assert.That(h.Cpu.Ebx, Is.EqualTo(Reserved1 | CF));
    }

    [TestCase(TestName = "IN at CPL 3 with IOPL 3 reads the port without consulting the (absent) I/O bitmap")]
    public void InAtIopl3()
    {
        var h = RunUser(a =>
        {
            a.mov(dx, (ushort)0xE9);
            a.@in(al, dx);
            a.@int(CpuHarness.ExitVector);
        }, userFlags: Reserved1 | IOPL);
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
    }
}
