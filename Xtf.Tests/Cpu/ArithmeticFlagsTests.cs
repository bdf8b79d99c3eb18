using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Status flags of the add/subtract and logic families at the 8/16/32-bit boundaries (SDM vol. 1,
/// 3.4.3.1 and appendix A; vol. 2 per instruction). Every row states its arithmetic; PF is the
/// parity of the low result byte only (set when it holds an even number of 1 bits).
/// </summary>
[TestFixture]
public sealed class ArithmeticFlagsTests
{
    /// <summary>Runs "mov A, a; mov B, b; op A, B; hlt" with A/B = AL/BL, AX/BX or EAX/EBX.</summary>
    private static (uint Result, uint Flags) RunBinary(string op, int size, uint a, uint b, uint eflags = Reserved1)
    {
        var h = new CpuHarness();
        var stop = h.Run(asm =>
        {
            asm.mov(eax, a);
            asm.mov(ebx, b);
            var (d, src) = size switch
            {
                1 => (Register.AL, Register.BL),
                2 => (Register.AX, Register.BX),
                _ => (Register.EAX, Register.EBX),
            };
            Emit(asm, op, d, src, size * 8);

            asm.hlt();
        }, eflags: eflags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return (h.Cpu.Eax & (uint)X86Cpu.SizeMask(size), h.Cpu.Eflags & Status);
    }

    /// <summary>Emits "op d, s" (or "op d" for INC/DEC/NEG) in its r/m, reg form for the given width.</summary>
    private static void Emit(Assembler a, string op, Register d, Register s, int bits)
    {
        bool unary = op is "inc" or "dec" or "neg";
        string name = char.ToUpperInvariant(op[0]) + op[1..] + (unary ? $"_rm{bits}" : $"_rm{bits}_r{bits}");
        var code = Enum.Parse<Code>(name);
        a.AddInstruction(unary ? Instruction.Create(code, d) : Instruction.Create(code, d, s));
    }

    // ADD: CF = unsigned carry out of the MSB, OF = signed overflow (operands of equal sign, result of
    // the other), AF = carry out of bit 3.
    [TestCase("add", 4, 0x7FFFFFFFu, 1u, 0u, 0x80000000u, OF | SF | AF | PF, TestName = "ADD: 0x7FFFFFFF + 1 = 0x80000000 sets OF, SF, AF (F+1 carries out of bit 3), PF (low byte 00), clears CF")]
    [TestCase("add", 4, 0xFFFFFFFFu, 1u, 0u, 0u, CF | ZF | AF | PF, TestName = "ADD: 0xFFFFFFFF + 1 wraps to 0: CF, ZF, AF, PF set, OF clear (-1 + 1 = 0 has no signed overflow)")]
    [TestCase("add", 4, 0x80000000u, 0x80000000u, 0u, 0u, CF | OF | ZF | PF, TestName = "ADD: 0x80000000 + 0x80000000 = 0 sets CF and OF (two negatives give non-negative), ZF, PF")]
    [TestCase("add", 4, 0x0Fu, 1u, 0u, 0x10u, AF, TestName = "ADD: 0x0F + 1 sets only AF (0x10 has one 1 bit, PF clear)")]
    [TestCase("add", 1, 0x7Fu, 1u, 0u, 0x80u, OF | SF | AF, TestName = "ADD r8: 0x7F + 1 = 0x80 sets OF, SF, AF; PF clear (0x80 has one 1 bit)")]
    [TestCase("add", 1, 0xFFu, 1u, 0u, 0u, CF | ZF | AF | PF, TestName = "ADD r8: 0xFF + 1 wraps to 0: CF, ZF, AF, PF")]
    [TestCase("add", 2, 0x7FFFu, 1u, 0u, 0x8000u, OF | SF | AF | PF, TestName = "ADD r16: 0x7FFF + 1 = 0x8000 sets OF, SF, AF, PF")]
    [TestCase("add", 2, 0xFFFFu, 0xFFFFu, 0u, 0xFFFEu, CF | SF | AF, TestName = "ADD r16: 0xFFFF + 0xFFFF = 0x1FFFE: CF, SF, AF; no OF (-1 + -1 = -2); PF clear (0xFE has seven 1 bits)")]
    // SUB/CMP: CF = borrow (a < b unsigned), OF = operands of different sign and result sign differs from a, AF = borrow from bit 4.
    [TestCase("sub", 4, 0x80000000u, 1u, 0u, 0x7FFFFFFFu, OF | AF | PF, TestName = "SUB: 0x80000000 - 1 = 0x7FFFFFFF sets OF and AF (0 - 1 borrows into bit 3), PF (0xFF), clears CF and SF")]
    [TestCase("sub", 4, 0u, 1u, 0u, 0xFFFFFFFFu, CF | SF | AF | PF, TestName = "SUB: 0 - 1 = 0xFFFFFFFF sets CF (borrow), SF, AF, PF; OF clear")]
    [TestCase("sub", 1, 0x80u, 1u, 0u, 0x7Fu, OF | AF, TestName = "SUB r8: 0x80 - 1 = 0x7F sets OF and AF; PF clear (0x7F has seven 1 bits)")]
    [TestCase("sub", 2, 5u, 5u, 0u, 0u, ZF | PF, TestName = "SUB r16: 5 - 5 = 0 sets ZF and PF only")]
    [TestCase("sub", 1, 0x10u, 1u, 0u, 0x0Fu, AF | PF, TestName = "SUB r8: 0x10 - 1 = 0x0F sets AF (borrow from bit 4) and PF (four 1 bits)")]
    [TestCase("cmp", 4, 1u, 2u, 0u, 1u, CF | SF | AF | PF, TestName = "CMP: 1 - 2 sets CF, SF, AF, PF like SUB and leaves the destination unchanged")]
    [TestCase("cmp", 1, 0x7Fu, 0x80u, 0u, 0x7Fu, CF | OF | SF | PF, TestName = "CMP r8: 0x7F - 0x80 = 0xFF sets CF, OF (positive minus negative gave negative), SF, PF; AF clear")]
    // ADC/SBB add/subtract CF as well.
    [TestCase("adc", 4, 0x7FFFFFFFu, 0u, CF, 0x80000000u, OF | SF | AF | PF, TestName = "ADC: 0x7FFFFFFF + 0 + CF(1) = 0x80000000 sets OF, SF, AF, PF and clears CF")]
    [TestCase("adc", 4, 0xFFFFFFFFu, 0xFFFFFFFFu, CF, 0xFFFFFFFFu, CF | SF | AF | PF, TestName = "ADC: 0xFFFFFFFF + 0xFFFFFFFF + 1 = 0x1FFFFFFFF sets CF, SF, AF, PF; no OF")]
    [TestCase("adc", 1, 0xFFu, 0u, CF, 0u, CF | ZF | AF | PF, TestName = "ADC r8: 0xFF + 0 + CF(1) wraps to 0: CF, ZF, AF, PF")]
    [TestCase("sbb", 4, 0u, 0u, CF, 0xFFFFFFFFu, CF | SF | AF | PF, TestName = "SBB: 0 - 0 - CF(1) = 0xFFFFFFFF sets CF, SF, AF, PF")]
    [TestCase("sbb", 2, 0x8000u, 0u, CF, 0x7FFFu, OF | AF | PF, TestName = "SBB r16: 0x8000 - 0 - CF(1) = 0x7FFF sets OF, AF, PF, clears CF")]
    [TestCase("sbb", 4, 5u, 4u, CF, 0u, ZF | PF, TestName = "SBB: 5 - 4 - CF(1) = 0 sets ZF and PF, clears CF")]
    // INC/DEC: like ADD/SUB 1, but CF keeps its old value.
    [TestCase("inc", 4, 0x7FFFFFFFu, 0u, CF, 0x80000000u, CF | OF | SF | AF | PF, TestName = "INC: 0x7FFFFFFF + 1 sets OF, SF, AF, PF and leaves CF set")]
    [TestCase("inc", 1, 0xFFu, 0u, 0u, 0u, ZF | AF | PF, TestName = "INC r8: 0xFF + 1 wraps to 0 with ZF, AF, PF and CF still clear")]
    [TestCase("dec", 4, 0x80000000u, 0u, CF, 0x7FFFFFFFu, CF | OF | AF | PF, TestName = "DEC: 0x80000000 - 1 sets OF, AF, PF and leaves CF set")]
    [TestCase("dec", 2, 0u, 0u, 0u, 0xFFFFu, SF | AF | PF, TestName = "DEC r16: 0 - 1 = 0xFFFF sets SF, AF, PF and CF stays clear")]
    // NEG: 0 - operand; CF = (operand != 0).
    [TestCase("neg", 4, 0u, 0u, CF, 0u, ZF | PF, TestName = "NEG: 0 gives 0 with CF clear, ZF and PF set")]
    [TestCase("neg", 4, 0x80000000u, 0u, 0u, 0x80000000u, CF | OF | SF | PF, TestName = "NEG: 0x80000000 stays 0x80000000 with CF, OF, SF, PF")]
    [TestCase("neg", 1, 1u, 0u, 0u, 0xFFu, CF | SF | AF | PF, TestName = "NEG r8: 1 gives 0xFF with CF, SF, AF (borrow from bit 4), PF")]
    public void AddSubtractFlags(string op, int size, uint a, uint b, uint initialFlags, uint expected, uint expectedFlags)
    {
        var (result, flags) = RunBinary(op, size, a, b, Reserved1 | initialFlags);
        Assert.Multiple(() =>
        {
            Assert.That(result, Is.EqualTo(expected), "result");
            Assert.That(FlagNames(flags), Is.EqualTo(FlagNames(expectedFlags)), "CF, PF, AF, ZF, SF, OF");
        });
    }

    // SDM: AND, OR, XOR, TEST clear OF and CF and set SF, ZF, PF by the result; AF is undefined (not compared).
    [TestCase("and", 4, 0xF0F0F0F0u, 0x0F0F0F0Fu, 0u, ZF | PF, TestName = "AND: 0xF0F0F0F0 & 0x0F0F0F0F = 0 clears CF and OF, sets ZF and PF")]
    [TestCase("or", 4, 0x80000000u, 1u, 0x80000001u, SF, TestName = "OR: 0x80000000 | 1 clears CF and OF, sets SF; PF clear (low byte 01)")]
    [TestCase("xor", 4, 0x12345678u, 0x12345678u, 0u, ZF | PF, TestName = "XOR: x ^ x = 0 clears CF and OF, sets ZF and PF")]
    [TestCase("test", 1, 0x80u, 0x80u, 0x80u, SF, TestName = "TEST r8: 0x80 & 0x80 sets SF, clears CF and OF and leaves the operand unchanged")]
    [TestCase("and", 2, 0xFF03u, 0x0F03u, 0x0F03u, PF, TestName = "AND r16: 0xFF03 & 0x0F03 = 0x0F03; PF from the low byte 03 only")]
    public void LogicFlags(string op, int size, uint a, uint b, uint expected, uint expectedFlags)
    {
        var (result, flags) = RunBinary(op, size, a, b, Reserved1 | CF | OF);
        Assert.Multiple(() =>
        {
            Assert.That(result, Is.EqualTo(expected), "result");
            Assert.That(FlagNames(flags & ~AF), Is.EqualTo(FlagNames(expectedFlags)), "CF, PF, ZF, SF, OF");
        });
    }


    /// <summary>Flags as names, so a failure reads "CF OF" rather than a number.</summary>
    internal static string FlagNames(uint flags)
    {
        var names = new List<string>();
        foreach (var (bit, name) in new[] { (CF, "CF"), (PF, "PF"), (AF, "AF"), (ZF, "ZF"), (SF, "SF"), (OF, "OF") })
        {
            if ((flags & bit) != 0)
                names.Add(name);
        }

        return names.Count == 0 ? "-" : string.Join(' ', names);
    }
}
