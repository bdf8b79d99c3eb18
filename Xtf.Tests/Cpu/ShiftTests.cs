using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Shifts and rotates (SDM vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD). Each row names the
/// flags it checks: flags the SDM leaves undefined for that count are never compared.
/// </summary>
[TestFixture]
public sealed class ShiftTests
{
    private const uint Arith = CF | OF | SF | ZF | PF;

    /// <summary>Runs "mov eax, value; mov cl, count; op A, cl; hlt" with A = AL, AX or EAX.</summary>
    private static (uint Result, uint Flags) RunShift(string op, int size, uint value, int count, uint eflags)
    {
        var h = new CpuHarness();
        var stop = h.Run(a =>
        {
            a.mov(eax, value);
            a.mov(cl, (byte)count);
            Emit(a, op, size * 8);

            a.hlt();
        }, eflags: eflags | Reserved1);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return (h.Cpu.Eax & (uint)X86Cpu.SizeMask(size), h.Cpu.Eflags);
    }

    /// <summary>Emits "op A, cl" (SHLD/SHRD: "op A, B, cl") with A/B = AL/BL, AX/BX or EAX/EBX.</summary>
    private static void Emit(Assembler a, string op, int bits)
    {
        var (r, b) = bits switch
        {
            8 => (Register.AL, Register.BL),
            16 => (Register.AX, Register.BX),
            _ => (Register.EAX, Register.EBX),
        };
        bool doublePrecision = op is "shld" or "shrd";
        string name = char.ToUpperInvariant(op[0]) + op[1..] + (doublePrecision ? $"_rm{bits}_r{bits}_CL" : $"_rm{bits}_CL");
        var code = Enum.Parse<Code>(name);
        a.AddInstruction(doublePrecision ? Instruction.Create(code, r, b, Register.CL) : Instruction.Create(code, r, Register.CL));
    }

    // SHL: CF = last bit out (bit width-count); count 1: OF = MSB(result) XOR CF.
    [TestCase("shl", 4, 0x80000001u, 1, 0u, 0x00000002u, CF | OF, Arith, TestName = "SHL by 1: 0x80000001 -> 2, CF = old bit 31, OF = MSB(0) XOR CF(1) = 1")]
    [TestCase("shl", 4, 0x40000000u, 1, 0u, 0x80000000u, OF | SF | PF, Arith, TestName = "SHL by 1: 0x40000000 -> 0x80000000, CF 0, OF = MSB(1) XOR CF(0) = 1")]
    [TestCase("shl", 4, 0x12345678u, 0, CF | OF | AF | ZF, 0x12345678u, CF | OF | AF | ZF, Status, TestName = "SHL by 0 changes neither the operand nor any flag")]
    [TestCase("shl", 4, 1u, 33, 0u, 2u, 0u, Arith, TestName = "SHL r32 count is masked to 5 bits: 33 shifts by 1")]
    [TestCase("shl", 4, 0x12345678u, 4, 0u, 0x23456780u, CF, CF | SF | ZF | PF, TestName = "SHL by 4: 0x12345678 -> 0x23456780, CF = old bit 28 (1); PF clear (0x80)")]
    [TestCase("shl", 1, 0x81u, 9, 0u, 0u, ZF | PF, SF | ZF | PF, TestName = "SHL r8 by 9 (beyond the width, within the 5-bit mask) gives 0 with ZF and PF")]
    // SHR: CF = bit count-1; count 1: OF = MSB of the original operand.
    [TestCase("shr", 4, 0x80000001u, 1, 0u, 0x40000000u, CF | OF | PF, Arith, TestName = "SHR by 1: 0x80000001 -> 0x40000000, CF = old bit 0, OF = old MSB")]
    [TestCase("shr", 1, 0x01u, 1, 0u, 0u, CF | ZF | PF, Arith, TestName = "SHR r8 by 1: 1 -> 0 with CF, ZF, PF; OF = old MSB = 0")]
    [TestCase("shr", 4, 0xF0000000u, 28, CF, 0xFu, PF, CF | SF | ZF | PF, TestName = "SHR by 28: 0xF0000000 -> 0xF, CF = old bit 27 (0), PF (four 1 bits)")]
    // SAR: sign fills in; count 1: OF = 0.
    [TestCase("sar", 4, 0x80000000u, 1, OF, 0xC0000000u, SF | PF, Arith, TestName = "SAR by 1: 0x80000000 -> 0xC0000000, OF cleared, CF = old bit 0 (0)")]
    [TestCase("sar", 4, 0xFFFFFFF8u, 2, 0u, 0xFFFFFFFEu, SF, CF | SF | ZF | PF, TestName = "SAR by 2: -8 -> -2, CF = old bit 1 (0); PF clear (0xFE)")]
    [TestCase("sar", 1, 0x81u, 9, 0u, 0xFFu, CF | SF | PF, CF | SF | ZF | PF, TestName = "SAR r8 by 9 (beyond the width) fills the operand and CF with the sign bit (CF is undefined only for SHL/SHR)")]
    // ROL/ROR: CF = bit rotated in last; count 1 defines OF; SF, ZF, AF, PF unaffected.
    [TestCase("rol", 1, 0x81u, 1, ZF, 0x03u, CF | OF | ZF, Status, TestName = "ROL r8 by 1: 0x81 -> 0x03, CF = LSB, OF = MSB XOR CF; ZF keeps its old value")]
    [TestCase("rol", 4, 0x80000000u, 4, CF, 0x00000008u, 0u, CF, TestName = "ROL by 4: 0x80000000 -> 8, CF = LSB of the result (0)")]
    [TestCase("rol", 1, 0x01u, 8, 0u, 0x01u, CF, CF, TestName = "ROL r8 by 8 rotates by 8 MOD 8 = 0 but still sets CF = LSB of the result")]
    [TestCase("ror", 1, 0x01u, 1, 0u, 0x80u, CF | OF, CF | OF, TestName = "ROR r8 by 1: 1 -> 0x80, CF = MSB, OF = MSB XOR MSB-1 = 1")]
    [TestCase("ror", 4, 0x00000002u, 1, CF | OF, 0x00000001u, 0u, CF | OF, TestName = "ROR by 1: 2 -> 1, CF = MSB (0), OF = MSB XOR MSB-1 = 0")]
    // RCL/RCR: rotate through CF, 9-bit for r8 and 17-bit for r16 (count MOD 9 / MOD 17).
    [TestCase("rcl", 1, 0x80u, 1, 0u, 0x00u, CF | OF, Status, TestName = "RCL r8 by 1: 0x80 with CF 0 -> 0, CF = 1, OF = MSB XOR CF = 1; ZF not affected")]
    [TestCase("rcl", 1, 0x00u, 1, CF, 0x01u, 0u, CF | OF, TestName = "RCL r8 by 1: the old CF enters bit 0")]
    [TestCase("rcl", 1, 0x01u, 9, CF, 0x01u, CF, CF, TestName = "RCL r8 by 9 rotates the 9-bit CF:AL by 9 MOD 9 = 0: operand and CF unchanged")]
    [TestCase("rcl", 2, 0x8000u, 17, 0u, 0x8000u, 0u, CF, TestName = "RCL r16 by 17 rotates the 17-bit CF:AX by 0: operand and CF unchanged")]
    [TestCase("rcl", 4, 0x80000000u, 2, CF, 0x00000003u, 0u, CF, TestName = "RCL r32 by 2 with CF 1: 0x80000000 -> 3 (bit 31 through CF into bit 0), CF 0")]
    [TestCase("rcr", 1, 0x01u, 1, CF, 0x80u, CF | OF, CF | OF, TestName = "RCR r8 by 1 with CF 1: 1 -> 0x80, CF = old bit 0, OF = old MSB XOR old CF")]
    [TestCase("rcr", 1, 0x00u, 9, CF, 0x00u, CF, CF, TestName = "RCR r8 by 9 rotates by 9 MOD 9 = 0: operand and CF unchanged")]
    [TestCase("rcr", 4, 0x00000001u, 2, 0u, 0x80000000u, 0u, CF, TestName = "RCR r32 by 2 with CF 0: 1 -> 0x80000000 (bit 0 through CF into bit 31), CF 0")]
    public void ShiftRotate(string op, int size, uint value, int count, uint initialFlags, uint expected, uint expectedFlags, uint checkedFlags)
    {
        var (result, flags) = RunShift(op, size, value, count, initialFlags);
        Assert.Multiple(() =>
        {
            Assert.That(result, Is.EqualTo(expected), "result");
            Assert.That(ArithmeticFlagsTests.FlagNames(flags & checkedFlags), Is.EqualTo(ArithmeticFlagsTests.FlagNames(expectedFlags)), "flags");
        });
    }

    [TestCase(TestName = "SHL r/m32, 1 (opcode D1 /4): the implicit count of 1 defines OF = MSB(result) XOR CF")]
    public void ShlByImplicitOneDefinesOverflow()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(eax, 0xC0000000u);
            a.shl(eax, 1); // 0x80000000, CF = 1, OF = 1 XOR 1 = 0
            a.hlt();
        }, eflags: OF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x80000000u));
            Assert.That(ArithmeticFlagsTests.FlagNames(h.Cpu.Eflags & (CF | OF)), Is.EqualTo("CF"));
        });
    }

    [TestCase(true, 0x12345678u, 0x9ABCDEF0u, 8, 0x3456789Au, PF, TestName = "SHLD by 8: 0x12345678:0x9ABCDEF0 -> 0x3456789A, CF = old bit 24 (0), PF (0x9A has four 1 bits)")]
    [TestCase(false, 0x12345678u, 0x9ABCDEF0u, 8, 0xF0123456u, SF | PF, TestName = "SHRD by 8: 0x9ABCDEF0:0x12345678 -> 0xF0123456, CF = old bit 7 (0), SF, PF")]
    [TestCase(true, 0x40000000u, 0u, 1, 0x80000000u, OF | SF | PF, TestName = "SHLD by 1: a sign change sets OF")]
    [TestCase(false, 0x00000001u, 0u, 1, 0u, CF | ZF | PF, TestName = "SHRD by 1: 1 -> 0, CF = old bit 0, no sign change so OF clear")]
    public void DoublePrecisionShift(bool left, uint dest, uint src, int count, uint expected, uint expectedFlags)
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(eax, dest);
            a.mov(ebx, src);
            if (left)
                a.shld(eax, ebx, (byte)count);
            else
                a.shrd(eax, ebx, (byte)count);
            a.hlt();
        }, eflags: count == 1 ? OF | CF : 0);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(expected));
            // OF is defined for 1-bit shifts only.
            uint checkedFlags = count == 1 ? Arith : Arith & ~OF;
            Assert.That(ArithmeticFlagsTests.FlagNames(h.Cpu.Eflags & checkedFlags), Is.EqualTo(ArithmeticFlagsTests.FlagNames(expectedFlags)));
        });
    }

    [TestCase(TestName = "SHRD with a masked count of 0 (32 & 0x1F) changes neither the operand nor any flag")]
    public void DoublePrecisionShiftByZeroIsNoOperation()
    {
        var (result, flags) = RunShift("shrd", 2, 0x1234u, 32, CF | ZF | SF);
        Assert.Multiple(() =>
        {
            Assert.That(result, Is.EqualTo(0x1234u));
            Assert.That(flags & Status, Is.EqualTo(CF | ZF | SF));
        });
    }

    [TestCase(TestName = "SHL m32, 1 and RCR m8, CL operate on memory: 0x40000001 -> 0x80000002; 0x01 with CF 1 -> 0x80, CF 1")]
    public void ShiftsOnMemoryOperands()
    {
        const uint data = CpuHarness.DataBase;
        var h = new CpuHarness();
        h.WriteU32(data, 0x40000001u);
        h.WriteU32(data + 4, 0x01u);
        h.Run(a =>
        {
            a.shl(__dword_ptr[data], 1);
            a.stc();
            a.mov(cl, 1);
            a.rcr(__byte_ptr[data + 4], cl);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(data), Is.EqualTo(0x80000002u));
            Assert.That(h.ReadU32(data + 4), Is.EqualTo(0x80u));
            Assert.That(h.Cpu.Eflags & CF, Is.EqualTo(CF), "CF = old bit 0 of the byte");
        });
    }
}
