using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Addressing in 64-bit mode (SDM vol. 1, 3.3.7 and 3.7.5; vol. 3, 3.4.4 and 6.15): canonical
/// address checks (#SS for stack references, #GP otherwise), FS/GS as the only segments whose
/// base applies, and RIP-relative operands.
/// </summary>
public sealed class LongModeAddressingTests
{
    private const ulong NonCanonical = 0x0000800000000000;

    [TestCase(TestName = "SDM vol. 1, 3.3.7.1: a data read at a non-canonical address in 64-bit mode raises #GP(0)")]
    public void NonCanonicalDataReadIsGp()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rbx, NonCanonical);
            a.mov(rax, __qword_ptr[rbx]);
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 1, 3.3.7.1: an access whose last byte is non-canonical (8 bytes at 0x7FFFFFFFFFFC) raises #GP(0)")]
    public void AccessCrossingIntoNonCanonicalIsGp()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rbx, 0x00007FFFFFFFFFFCul);
            a.mov(rax, __qword_ptr[rbx]);
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 3, 6.15 (#SS): a memory reference through RBP (the SS segment) at a non-canonical address raises #SS(0)")]
    public void NonCanonicalStackReferenceIsSs()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rbp, NonCanonical);
            a.mov(rax, __qword_ptr[rbp]);
        });
        h.AssertFault(X86Vector.SS, 0);
    }

    [TestCase(TestName = "SDM vol. 3, 3.4.4: FS and GS overrides add IA32_FS_BASE / IA32_GS_BASE in 64-bit mode; a DS override adds nothing")]
    public void FsAndGsBasesApply()
    {
        var h = new LongModeHarness();
        h.WriteU64(DataBase, 0x1111111111111111);
        h.WriteU64(DataBase + 0x1000, 0x2222222222222222);
        h.WriteU64(DataBase + 0x2000, 0x3333333333333333);
        h.RunToHalt(a =>
        {
            WriteMsr(a, X86Cpu.MsrFsBase, 0x1000);
            WriteMsr(a, X86Cpu.MsrGsBase, 0x2000);
            a.mov(ebx, DataBase);
            a.mov(rax, __qword_ptr.fs[rbx]);
            a.mov(rcx, __qword_ptr.gs[rbx]);
            a.mov(rdx, __qword_ptr.ds[rbx]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu[X86Cpu.RAX], Is.EqualTo(0x2222222222222222ul), "FS: base 0x1000 added");
            Assert.That(h.Cpu[X86Cpu.RCX], Is.EqualTo(0x3333333333333333ul), "GS: base 0x2000 added");
            Assert.That(h.Cpu[X86Cpu.RDX], Is.EqualTo(0x1111111111111111ul), "DS: no base");
        });
    }

    [TestCase(TestName = "SDM vol. 1, 3.7.5.1: RIP-relative operands are relative to the RIP of the next instruction")]
    public void RipRelativeOperands()
    {
        var h = new LongModeHarness();
        Label data = default, after = default;
        h.RunToHalt(a =>
        {
            data = a.CreateLabel();
            after = a.CreateLabel();
            a.lea(rbx, __[after]);
            a.Label(ref after);
            a.mov(rax, __qword_ptr[data]);
            a.hlt();
            a.Label(ref data);
            a.dq(0x0123456789ABCDEF);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo((ulong)h.AddressOf(after)), "LEA of the next instruction");
            Assert.That(h.Cpu[X86Cpu.RAX], Is.EqualTo(0x0123456789ABCDEFul), "the quadword after the HLT");
        });
    }
}
