using Iced.Intel;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// Random operands for one <see cref="OpCodeOperandKind"/>: general-purpose registers other than
/// RSP (and its low parts, which a snippet never touches), CL and the accumulator where the form
/// fixes them, and immediates biased to edge values. Memory operand kinds are not supported.
/// </summary>
internal static class SnippetOperands
{
    private static readonly Register[] Gpr8 =
    [
        Register.AL, Register.CL, Register.DL, Register.BL, Register.AH, Register.CH, Register.DH, Register.BH,
        Register.BPL, Register.SIL, Register.DIL, Register.R8L, Register.R9L, Register.R10L, Register.R11L,
        Register.R12L, Register.R13L, Register.R14L, Register.R15L,
    ];

    public static bool IsSupported(OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem => true,
        OpCodeOperandKind.r8_reg or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r64_reg => true,
        OpCodeOperandKind.r8_opcode or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r64_opcode => true,
        OpCodeOperandKind.r16_rm or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r64_rm => true,
        OpCodeOperandKind.al or OpCodeOperandKind.cl or OpCodeOperandKind.ax or OpCodeOperandKind.eax or OpCodeOperandKind.rax => true,
        OpCodeOperandKind.imm8 or OpCodeOperandKind.imm16 or OpCodeOperandKind.imm32 or OpCodeOperandKind.imm8_const_1 => true,
        OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 or OpCodeOperandKind.imm32sex64 => true,
        _ => false,
    };

    /// <summary>Operand size in bytes of a register kind, 0 for an immediate.</summary>
    public static int RegisterSize(OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.al or OpCodeOperandKind.cl => 1,
        OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r16_rm or OpCodeOperandKind.ax => 2,
        OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.r32_rm or OpCodeOperandKind.eax => 4,
        OpCodeOperandKind.r64_or_mem or OpCodeOperandKind.r64_reg or OpCodeOperandKind.r64_opcode or OpCodeOperandKind.r64_rm or OpCodeOperandKind.rax => 8,
        _ => 0,
    };

    /// <summary>A register for <paramref name="kind"/>, never RSP/ESP/SP/SPL; the fixed register where the kind names one.</summary>
    public static Register RandomRegister(Random rng, OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.al => Register.AL,
        OpCodeOperandKind.cl => Register.CL,
        OpCodeOperandKind.ax => Register.AX,
        OpCodeOperandKind.eax => Register.EAX,
        OpCodeOperandKind.rax => Register.RAX,
        _ => RegisterOfSize(rng, RegisterSize(kind)),
    };

    /// <summary>A random register of <paramref name="size"/> bytes other than the stack pointer.</summary>
    public static Register RegisterOfSize(Random rng, int size)
    {
        if (size == 1)
            return Gpr8[rng.Next(Gpr8.Length)];
        int n = rng.Next(15);
        if (n >= 4)
            n++; // skip RSP
        Register first = size switch { 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX };
        return first + n;
    }

    /// <summary>An immediate for <paramref name="kind"/> (as Iced's Instruction.Create takes it), or null for a register kind.</summary>
    public static long? RandomImmediate(Random rng, OpCodeOperandKind kind) => kind switch
    {
        OpCodeOperandKind.imm8_const_1 => 1,
        OpCodeOperandKind.imm8 => (byte)Edge(rng, 8),
        OpCodeOperandKind.imm16 => (ushort)Edge(rng, 16),
        OpCodeOperandKind.imm32 => (uint)Edge(rng, 32),
        OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 => (sbyte)Edge(rng, 8),
        OpCodeOperandKind.imm32sex64 => (int)Edge(rng, 32),
        _ => null,
    };

    /// <summary>A value of <paramref name="bits"/> bits: often 0, 1, all ones, the sign bit or its neighbours, else random.</summary>
    public static ulong Edge(Random rng, int bits)
    {
        ulong mask = bits == 64 ? ulong.MaxValue : (1ul << bits) - 1;
        ulong sign = 1ul << (bits - 1);
        ulong v = rng.Next(10) switch
        {
            0 => 0,
            1 => 1,
            2 => ulong.MaxValue,
            3 => sign,
            4 => sign - 1,
            5 => sign + 1,
            6 => (ulong)rng.Next(64),
            _ => ((ulong)rng.NextInt64() << 1) ^ (ulong)rng.Next(2),
        };
        return v & mask;
    }
}
