using Iced.Intel;
using static System.Numerics.BitOperations;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// The bit-manipulation instructions behind CPUID.1:ECX.POPCNT, CPUID.80000001H:ECX.LZCNT and
/// CPUID.(7,0):EBX.BMI1 (SDM vol. 2): POPCNT, LZCNT, TZCNT, and the VEX-encoded ANDN, BEXTR,
/// BLSI, BLSMSK, BLSR (32-bit operands, 64-bit with VEX.W1 in 64-bit mode). VEX instructions
/// are not recognised in real-address and virtual-8086 mode (#UD). Flags the SDM calls undefined
/// are left unchanged.
/// </summary>
internal static class BitManipulation
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Popcnt, Popcnt);
        add(Mnemonic.Lzcnt, (X86Cpu c, in Instruction i) => CountZeros(c, i, leading: true));
        add(Mnemonic.Tzcnt, (X86Cpu c, in Instruction i) => CountZeros(c, i, leading: false));
        add(Mnemonic.Andn, Andn);
        add(Mnemonic.Bextr, Bextr);
        add(Mnemonic.Blsi, (X86Cpu c, in Instruction i) => LowestSetBit(c, i, Lowest.Isolate));
        add(Mnemonic.Blsmsk, (X86Cpu c, in Instruction i) => LowestSetBit(c, i, Lowest.Mask));
        add(Mnemonic.Blsr, (X86Cpu c, in Instruction i) => LowestSetBit(c, i, Lowest.Reset));
    }

    private enum Lowest
    {
        Isolate,
        Mask,
        Reset,
    }

    /// <summary>POPCNT: the number of set bits; ZF = (source = 0); OF, SF, AF, CF, PF cleared.</summary>
    private static void Popcnt(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong src = cpu.ReadOperand(i, 1, size);
        cpu.WriteOperand(i, 0, size, (ulong)PopCount(src));
        FlagLogic.Set(cpu, src == 0 ? RFlags.ZF : 0);
    }

    /// <summary>
    /// LZCNT/TZCNT: leading/trailing zero bits of the source; a zero source gives the operand
    /// size in bits and CF = 1, otherwise CF = 0; ZF = (result = 0). OF, SF, PF, AF undefined.
    /// </summary>
    private static void CountZeros(X86Cpu cpu, in Instruction i, bool leading)
    {
        int size = X86Cpu.OperandSize(i, 0);
        int width = size * 8;
        ulong src = cpu.ReadOperand(i, 1, size);
        ulong count = src == 0 ? (ulong)width
            : leading ? (ulong)(LeadingZeroCount(src) - (64 - width))
            : (ulong)TrailingZeroCount(src);
        cpu.WriteOperand(i, 0, size, count);
        FlagLogic.Set(cpu, (src == 0 ? RFlags.CF : 0) | (count == 0 ? RFlags.ZF : 0), RFlags.CF | RFlags.ZF);
    }

    /// <summary>ANDN dest, src1 (VEX.vvvv), src2: dest = NOT src1 AND src2; SF, ZF from it; OF, CF cleared; AF, PF undefined.</summary>
    private static void Andn(X86Cpu cpu, in Instruction i)
    {
        int size = VexOperandSize(cpu, i);
        ulong result = ~cpu.ReadOperand(i, 1, size) & cpu.ReadOperand(i, 2, size) & X86Cpu.SizeMask(size);
        cpu.WriteOperand(i, 0, size, result);
        FlagLogic.Set(cpu, SignZero(result, size), RFlags.SF | RFlags.ZF | RFlags.OF | RFlags.CF);
    }

    /// <summary>
    /// BEXTR dest, src1, src2 (VEX.vvvv): START = src2[7:0], LEN = src2[15:8]; dest = the LEN bits
    /// of src1 from bit START, zero-extended, with bits beyond the operand reading as 0. ZF from
    /// the result; CF, OF cleared; AF, SF, PF undefined.
    /// </summary>
    private static void Bextr(X86Cpu cpu, in Instruction i)
    {
        int size = VexOperandSize(cpu, i);
        int width = size * 8;
        ulong src = cpu.ReadOperand(i, 1, size);
        ulong control = cpu.ReadOperand(i, 2, size);
        int start = (int)(control & 0xFF), length = (int)((control >> 8) & 0xFF);
        ulong result = start >= width ? 0 : src >> start;
        if (length < 64)
            result &= (1ul << length) - 1;
        cpu.WriteOperand(i, 0, size, result);
        FlagLogic.Set(cpu, result == 0 ? RFlags.ZF : 0, RFlags.ZF | RFlags.OF | RFlags.CF);
    }

    /// <summary>
    /// BLSI (src AND -src), BLSMSK (src XOR (src - 1)), BLSR (src AND (src - 1)), dest in VEX.vvvv.
    /// SF from the result; ZF from it (BLSMSK: cleared); CF = (src != 0) for BLSI, (src = 0) for
    /// BLSMSK and BLSR; OF cleared; AF, PF undefined.
    /// </summary>
    private static void LowestSetBit(X86Cpu cpu, in Instruction i, Lowest op)
    {
        int size = VexOperandSize(cpu, i);
        ulong mask = X86Cpu.SizeMask(size);
        ulong src = cpu.ReadOperand(i, 1, size);
        ulong result = op switch
        {
            Lowest.Isolate => src & (0 - src),
            Lowest.Mask => src ^ (src - 1),
            _ => src & (src - 1),
        } & mask;
        cpu.WriteOperand(i, 0, size, result);
        uint flags = SignZero(result, size);
        if (op == Lowest.Mask)
            flags &= ~RFlags.ZF;
        bool carry = op == Lowest.Isolate ? src != 0 : src == 0;
        FlagLogic.Set(cpu, flags | (carry ? RFlags.CF : 0), RFlags.SF | RFlags.ZF | RFlags.OF | RFlags.CF);
    }

    /// <summary>The operand size of a VEX general-purpose instruction, after the #UD of real-address and virtual-8086 mode.</summary>
    private static int VexOperandSize(X86Cpu cpu, in Instruction i)
    {
        if (!cpu.ProtectedMode || cpu.Virtual8086)
            throw CpuFault.UD();
        return X86Cpu.OperandSize(i, 0);
    }

    private static uint SignZero(ulong result, int size) => FlagLogic.SignZeroParity(result, size) & (RFlags.SF | RFlags.ZF);
}
