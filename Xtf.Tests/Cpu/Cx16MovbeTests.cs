using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>CMPXCHG16B (CPUID.1:ECX[13], CX16) and MOVBE (CPUID.1:ECX[22]) in 64-bit mode, as SDM vol. 2 defines them.</summary>
public sealed class Cx16MovbeTests
{
    [TestCase(true, TestName = "SDM CMPXCHG16B: RDX:RAX equal to m128 stores RCX:RBX and sets ZF")]
    [TestCase(false, TestName = "SDM CMPXCHG16B: RDX:RAX unequal loads m128 into RDX:RAX, clears ZF, memory unchanged")]
    public void Cmpxchg16b(bool equal)
    {
        var h = new LongModeHarness();
        h.WriteU64(DataBase, 0x1111);
        h.WriteU64(DataBase + 8, 0x2222);
        h.RunToHalt(a =>
        {
            a.mov(rax, 0x1111ul);
            a.mov(rdx, equal ? 0x2222ul : 0x3333ul);
            a.mov(rbx, 0xAAAAul);
            a.mov(rcx, 0xBBBBul);
            a.mov(rsi, (ulong)DataBase);
            a.cmpxchg16b(__xmmword_ptr[rsi]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eflags & RFlags.ZF, Is.EqualTo(equal ? RFlags.ZF : 0u));
            Assert.That((h.ReadU64(DataBase), h.ReadU64(DataBase + 8)), Is.EqualTo(equal ? (0xAAAAul, 0xBBBBul) : (0x1111ul, 0x2222ul)));
            // Equal: RDX:RAX untouched (it was 0x2222:0x1111). Unequal: loaded from m128, 0x2222:0x1111.
            Assert.That((h.Cpu[X86Cpu.RAX], h.Cpu[X86Cpu.RDX]), Is.EqualTo((0x1111ul, 0x2222ul)));
        });
    }

    [TestCase(TestName = "SDM CMPXCHG16B: an operand not aligned on 16 bytes is #GP(0)")]
    public void MisalignedCmpxchg16bIsGp()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rsi, (ulong)DataBase + 8);
            a.cmpxchg16b(__xmmword_ptr[rsi]);
            a.hlt();
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM MOVBE: loads and stores of 16, 32 and 64 bits swap the bytes")]
    public void MovbeSwapsBytes()
    {
        var h = new LongModeHarness();
        h.WriteU64(DataBase, 0x0102030405060708);
        h.RunToHalt(a =>
        {
            a.mov(rsi, (ulong)DataBase);
            a.movbe(rax, __qword_ptr[rsi]);
            a.movbe(ebx, __dword_ptr[rsi]);
            a.mov(rcx, 0x5A5A5A5A5A5A5A5Aul);
            a.movbe(cx, __word_ptr[rsi]);
            a.mov(edx, 0xAABBCCDDu);
            a.movbe(__dword_ptr[rsi + 8], edx);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu[X86Cpu.RAX], Is.EqualTo(0x0807060504030201ul));
            Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo(0x08070605ul), "bytes 08 07 06 05 swapped; a 32-bit load zero-extends");
            Assert.That(h.Cpu[X86Cpu.RCX], Is.EqualTo(0x5A5A5A5A5A5A0807ul), "bytes 08 07 swapped; a 16-bit load keeps the rest");
            Assert.That(h.ReadU64(DataBase + 8) & 0xFFFFFFFF, Is.EqualTo(0xDDCCBBAAul));
        });
    }
}
