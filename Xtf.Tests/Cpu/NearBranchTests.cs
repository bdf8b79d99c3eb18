using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>Near branches take their operand size from the instruction (SDM vol. 2, JMP and CALL).</summary>
[TestFixture]
public sealed class NearBranchTests
{
    private const uint Target = 0x5000;

    [TestCase(TestName = "JMP m16 in 32-bit code (66 FF /4): EIP = the 16-bit operand zero-extended, upper bytes unread")]
    public void JmpWithSixteenBitOperandTruncatesEip()
    {
        var h = new CpuHarness();
        h.Load(Target, a => a.hlt());
        h.WriteU32(CpuHarness.DataBase, 0xABCD0000 | Target);
        var stop = h.Run(a =>
        {
            a.AddInstruction(Instruction.Create(Code.Jmp_rm16, new MemoryOperand(Register.None, (long)CpuHarness.DataBase)));
            a.mov(ebx, 1);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(h.Cpu.Rip, Is.EqualTo((ulong)Target + 1), "halted after the HLT at the truncated target");
            Assert.That(h.Cpu.Ebx, Is.Not.EqualTo(1u), "the fall-through was not executed");
        });
    }

    [TestCase(TestName = "CALL r/m16 in 32-bit code (66 FF /2): pushes a 16-bit return IP, ESP drops by 2")]
    public void CallWithSixteenBitOperandPushesTwoBytes()
    {
        var h = new CpuHarness();
        h.Load(Target, a => a.hlt());
        var stop = h.Run(a =>
        {
            a.mov(eax, Target);
            a.AddInstruction(Instruction.Create(Code.Call_rm16, Register.AX));
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(h.Cpu.Rip, Is.EqualTo((ulong)Target + 1));
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop - 2));
        });
    }
}
