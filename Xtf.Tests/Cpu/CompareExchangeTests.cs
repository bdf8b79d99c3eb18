using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>CMPXCHG8B (SDM vol. 2): CPUID.1:EDX.CX8 is reported, so the instruction must exist.</summary>
[TestFixture]
public sealed class CompareExchangeTests
{
    private const uint Target = CpuHarness.DataBase;

    [TestCase(TestName = "CMPXCHG8B with EDX:EAX equal to m64 stores ECX:EBX and sets ZF, leaving CF as it was")]
    public void EqualStoresEcxEbx()
    {
        var h = new CpuHarness();
        h.WriteU32(Target, 0x33334444);
        h.WriteU32(Target + 4, 0x11112222);
        var stop = h.Run(a =>
        {
            a.stc();
            a.mov(edx, 0x11112222);
            a.mov(eax, 0x33334444);
            a.mov(ecx, 0x55556666);
            a.mov(ebx, 0x77778888);
            a.cmpxchg8b(__qword_ptr[Target]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That((h.ReadU32(Target + 4), h.ReadU32(Target)), Is.EqualTo((0x55556666u, 0x77778888u)));
            Assert.That(h.Cpu.Eflags & (ZF | CF), Is.EqualTo(ZF | CF));
        });
    }

    [TestCase(TestName = "CMPXCHG8B with EDX:EAX different from m64 loads m64 into EDX:EAX, clears ZF, m64 unchanged")]
    public void DifferentLoadsEdxEax()
    {
        var h = new CpuHarness();
        h.WriteU32(Target, 0x0BADF00D);
        h.WriteU32(Target + 4, 0xDEADBEEF);
        var stop = h.Run(a =>
        {
            a.xor(edx, edx);
            a.xor(eax, eax); // ZF = 1 before
            a.mov(ecx, 1);
            a.mov(ebx, 2);
            a.cmpxchg8b(__qword_ptr[Target]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That((h.Cpu.Edx, h.Cpu.Eax), Is.EqualTo((0xDEADBEEFu, 0x0BADF00Du)));
            Assert.That((h.ReadU32(Target + 4), h.ReadU32(Target)), Is.EqualTo((0xDEADBEEFu, 0x0BADF00Du)));
            Assert.That(h.Cpu.Eflags & ZF, Is.Zero);
        });
    }
}
