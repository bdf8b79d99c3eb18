using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Segment loads and system-descriptor loads in IA-32e mode (SDM vol. 2, MOV, LTR, LLDT; vol. 3,
/// 3.4.4, 5.2.1 and 7.7): null SS in 64-bit mode, FS/GS bases, ignored DS/ES/SS bases and limits,
/// 16-byte TSS and LDT descriptors.
/// </summary>
public sealed class LongModeSegmentLoadTests
{
    private const ushort Test = 12 << 3, SecondTss = 14 << 3;

    [TestCase(TestName = "SDM vol. 2, MOV: in 64-bit mode at CPL0 a null selector with RPL = CPL may be loaded into SS; the stack still works")]
    public void NullStackAtCplZero()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.xor(eax, eax);
            a.mov(ss, ax);
            a.push(rax);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.Zero);
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 8));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.15 (#GP): a null selector in SS at CPL0 in 64-bit mode with RPL (1) not equal to CPL raises #GP(0)")]
    public void NullStackRplMismatch()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(eax, 1);
            a.mov(ss, ax);
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 3, 6.15 (#GP): a null selector in SS at CPL3 in 64-bit mode raises #GP(0)")]
    public void NullStackAtCplThree()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a), a =>
        {
            a.mov(eax, 3);
            a.mov(ss, ax);
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)User64));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.15 (#GP): a null selector in SS in compatibility mode raises #GP(0), even at CPL0")]
    public void NullStackInCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 32, a =>
        {
            a.xor(eax, eax);
            a.mov(ss, ax);
        });
        h.RunToHalt(a => EnterUser(a, cs: Kernel32, ss: KernelData, rsp: KernelStackTop, rip: TargetCode));
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)Kernel32));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 3.4.4: MOV FS in 64-bit mode loads FS.base from the descriptor (32 bits), replacing a base written to IA32_FS_BASE")]
    public void MovFsLoadsDescriptorBase()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.CodeOrData(0x3, DataBase, 0xFFFFF, 0, granular: true).Raw);
        h.WriteU64(DataBase + 0x10, 0xF00D);
        h.RunToHalt(a =>
        {
            WriteMsr(a, X86Cpu.MsrFsBase, 0x1234_5678_0000);
            a.mov(ax, Test);
            a.mov(fs, ax);
            a.xor(ebx, ebx);
            a.mov(rax, __qword_ptr.fs[rbx + 0x10]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Segments[X86Cpu.FS].Base, Is.EqualTo((ulong)DataBase));
            Assert.That(h.Cpu.ReadMsr(X86Cpu.MsrFsBase), Is.EqualTo((ulong)DataBase));
            Assert.That(h.Cpu[X86Cpu.RAX], Is.EqualTo(0xF00Dul));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 3.4.4: in 64-bit mode DS's base and limit are ignored: a DS of base 0x30000 and limit 0xFFF reads linear 0x20008 at offset 0x20008")]
    public void DataSegmentBaseAndLimitIgnored()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.CodeOrData(0x3, 0x30000, 0xFFF, 0).Raw);
        h.WriteU64(DataBase + 8, 0xBEEF);
        h.RunToHalt(a =>
        {
            a.mov(ax, Test);
            a.mov(ds, ax);
            a.mov(ebx, DataBase + 8);
            a.mov(rax, __qword_ptr[rbx]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "no #GP for the limit");
            Assert.That(h.Cpu[X86Cpu.RAX], Is.EqualTo(0xBEEFul));
        });
    }

    [TestCase(TestName = "SDM vol. 2, LTR: in IA-32e mode the 16-byte TSS descriptor gives base[63:32]; the descriptor becomes busy (type 0xB)")]
    public void LtrReadsSixteenByteDescriptor()
    {
        var h = new LongModeHarness();
        var (low, high) = System64(SystemDescriptorType.Tss64Available, 0xFFFF_FFFF_8000_3000, 0x67);
        h.SetDescriptor16(14, low, high);
        h.RunToHalt(a =>
        {
            a.mov(ax, SecondTss);
            a.ltr(ax);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Tr.Selector, Is.EqualTo(SecondTss));
            Assert.That(h.Cpu.Tr.Base, Is.EqualTo(0xFFFF_FFFF_8000_3000ul));
            Assert.That((h.ReadU64(GdtBase + 14 * 8) >> 40) & 0xF, Is.EqualTo((ulong)SystemDescriptorType.Tss64Busy));
        });
    }

    [TestCase(TestName = "SDM vol. 2, LTR: in IA-32e mode a TSS descriptor whose base is not canonical raises #GP(selector)")]
    public void LtrNonCanonicalBase()
    {
        var h = new LongModeHarness();
        var (low, high) = System64(SystemDescriptorType.Tss64Available, 0x0000_8000_0000_3000, 0x67);
        h.SetDescriptor16(14, low, high);
        h.RunToHalt(a =>
        {
            a.mov(ax, SecondTss);
            a.ltr(ax);
        });
        h.AssertFault(X86Vector.GP, SecondTss);
    }

    [TestCase(TestName = "SDM vol. 3, table 3-2: a 16-bit TSS (type 1) is reserved in IA-32e mode: LTR raises #GP(selector)")]
    public void LtrSixteenBitTss()
    {
        var h = new LongModeHarness();
        var (low, high) = System64(SystemDescriptorType.Tss16Available, TssBase + 0x100, 0x67);
        h.SetDescriptor16(14, low, high);
        h.RunToHalt(a =>
        {
            a.mov(ax, SecondTss);
            a.ltr(ax);
        });
        h.AssertFault(X86Vector.GP, SecondTss);
    }

    [TestCase(TestName = "SDM vol. 2, LLDT: in IA-32e mode the LDT descriptor is 16 bytes; a selector with TI = 1 then names the new LDT")]
    public void LldtSixteenByteDescriptor()
    {
        var h = new LongModeHarness();
        const uint ldt = DataBase + 0x100;
        var (low, high) = System64(SystemDescriptorType.Ldt, ldt, 0xF);
        h.SetDescriptor16(14, low, high);
        h.WriteU64(ldt + 8, SegmentDescriptor.Data32(0).Raw);
        h.RunToHalt(a =>
        {
            a.mov(ax, SecondTss);
            a.lldt(ax);
            a.mov(ax, 0x0C); // LDT entry 1, RPL 0
            a.mov(es, ax);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Ldtr.Base, Is.EqualTo((ulong)ldt));
            Assert.That(h.Cpu.Segments[X86Cpu.ES].Selector, Is.EqualTo((ushort)0x0C));
        });
    }
}
