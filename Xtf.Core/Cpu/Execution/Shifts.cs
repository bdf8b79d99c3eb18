using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// Shifts and rotates: SAL/SHL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD (SDM vol. 2, "SAL/SAR/SHL/SHR",
/// "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
/// <para>
/// Common rules: the count is masked to 5 bits (6 bits for 64-bit operands); a masked count of 0
/// changes no flag. OF, which the SDM defines only for a count of 1, is for any other non-zero
/// count what the 1-bit rule gives for the last 1-bit step, as the 80286 computes it (checked
/// against every multi-bit shift and rotate in the SingleStepTests 80286 captures): SHL, ROL, RCL
/// MSB(result) XOR CF; SHR the MSB of the operand before the last step; SAR 0; ROR, RCR
/// MSB(result) XOR MSB-1(result). AF (undefined for any non-zero shift count) and the flags and
/// destination of SHLD/SHRD when the count exceeds the operand size stay unchanged rather than
/// guess at one processor's behaviour. The CF of SHL/SHR/SAR with a count at or beyond the operand
/// width, which the flags section calls undefined, follows the SDM's iterative pseudo-code (the
/// last bit shifted out: 0 for SHL/SHR, the sign for SAR).
/// </para>
/// </summary>
internal static class Shifts
{
    private enum Op
    {
        Shl,
        Shr,
        Sar,
        Rol,
        Ror,
        Rcl,
        Rcr,
    }

    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Shl, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Shl));
        add(Mnemonic.Sal, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Shl));
        add(Mnemonic.Shr, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Shr));
        add(Mnemonic.Sar, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Sar));
        add(Mnemonic.Rol, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Rol));
        add(Mnemonic.Ror, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Ror));
        add(Mnemonic.Rcl, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Rcl));
        add(Mnemonic.Rcr, (X86Cpu c, in Instruction i) => Execute(c, i, Op.Rcr));
        add(Mnemonic.Shld, (X86Cpu c, in Instruction i) => DoublePrecision(c, i, left: true));
        add(Mnemonic.Shrd, (X86Cpu c, in Instruction i) => DoublePrecision(c, i, left: false));
    }

    /// <summary>
    /// A shift by a masked count of 0 still writes its result: a 32-bit register destination in
    /// 64-bit mode is zero-extended into its 64-bit register (SDM vol. 1, 3.4.1.1), as silicon
    /// shows for SHL/ROL (41 C1 C3 00 with R11 = 0xFFFFFFFFFFFFFFFE leaves 0xFFFFFFFE) and
    /// SHLD/SHRD (the native oracle). Other destinations are left as they were.
    /// </summary>
    private static void WriteBackUnshifted(X86Cpu cpu, in Instruction i, in X86Cpu.Destination dst, ulong value, int size)
    {
        if (size == 4 && cpu.Bitness == 64 && i.Op0Kind == OpKind.Register)
            cpu.Write(dst, value);
    }

    /// <summary>The count operand (CL, imm8 or the implicit 1) masked to 5 bits, or 6 for 64-bit operands.</summary>
    private static int MaskedCount(X86Cpu cpu, in Instruction i, int countOperand, int size) =>
        (int)(cpu.ReadOperand(i, countOperand, 1) & (size == 8 ? 0x3Fu : 0x1Fu));

    private static void Execute(X86Cpu cpu, in Instruction i, Op op)
    {
        int size = X86Cpu.OperandSize(i, 0);
        int count = MaskedCount(cpu, i, 1, size);
        var dst = cpu.ResolveDestination(i, 0, size);
        ulong value = cpu.Read(dst);
        if (count == 0)
        {
            // SDM: a masked count of 0 affects no flag and leaves the value as it was.
            WriteBackUnshifted(cpu, i, dst, value, size);
            return;
        }

        int width = size * 8;
        ulong mask = X86Cpu.SizeMask(size);
        ulong sign = FlagLogic.SignBit(size);
        uint flags = cpu.Eflags;
        bool cf = (flags & RFlags.CF) != 0;
        ulong result;
        uint newFlags;
        uint affected;

        switch (op)
        {
            case Op.Shl:
                result = ShiftLeft(value, count, size, out newFlags);
                newFlags |= FlagLogic.SignZeroParity(result, size);
                affected = RFlags.CF | RFlags.OF | RFlags.SF | RFlags.ZF | RFlags.PF;
                break;
            case Op.Shr:
                result = ShiftRight(value, count, size, out newFlags);
                newFlags |= FlagLogic.SignZeroParity(result, size);
                affected = RFlags.CF | RFlags.OF | RFlags.SF | RFlags.ZF | RFlags.PF;
                break;
            case Op.Sar:
                result = ShiftArithmeticRight(value, count, size, out newFlags);
                newFlags |= FlagLogic.SignZeroParity(result, size);
                affected = RFlags.CF | RFlags.OF | RFlags.SF | RFlags.ZF | RFlags.PF;
                break;
            case Op.Rol:
                {
                    // SDM: the rotate amount is the masked count MOD size, but CF is still updated
                    // (to the LSB of the result) for any non-zero masked count.
                    int n = count % width;
                    result = n == 0 ? value : ((value << n) | (value >> (width - n))) & mask;
                    cf = (result & 1) != 0;
                    newFlags = cf ? RFlags.CF : 0;
                    if ((result & sign) != 0 != cf)
                        newFlags |= RFlags.OF; // OF = MSB(result) XOR CF
                    affected = RFlags.CF | RFlags.OF;
                    break;
                }

            case Op.Ror:
                {
                    int n = count % width;
                    result = n == 0 ? value : ((value >> n) | (value << (width - n))) & mask;
                    cf = (result & sign) != 0;
                    newFlags = cf ? RFlags.CF : 0;
                    if ((result & sign) != 0 != ((result & (sign >> 1)) != 0))
                        newFlags |= RFlags.OF; // OF = MSB(result) XOR MSB-1(result)
                    affected = RFlags.CF | RFlags.OF;
                    break;
                }

            case Op.Rcl:
                {
                    // SDM: 8- and 16-bit rotate through CF by (count MOD 9) and (count MOD 17).
                    int n = width < 32 ? count % (width + 1) : count;
                    result = value;
                    for (int k = 0; k < n; k++)
                    {
                        bool outBit = (result & sign) != 0;
                        result = ((result << 1) | (cf ? 1ul : 0)) & mask;
                        cf = outBit;
                    }

                    newFlags = cf ? RFlags.CF : 0;
                    if ((result & sign) != 0 != cf)
                        newFlags |= RFlags.OF; // OF = MSB(result) XOR CF
                    affected = RFlags.CF | RFlags.OF;
                    break;
                }

            default: // Op.Rcr
                {
                    int n = width < 32 ? count % (width + 1) : count;
                    result = value;
                    for (int k = 0; k < n; k++)
                    {
                        bool outBit = (result & 1) != 0;
                        result = (result >> 1) | (cf ? sign : 0);
                        cf = outBit;
                    }

                    // SDM: for count 1, OF = MSB(DEST) XOR CF taken before the rotate, which is
                    // MSB(result) XOR MSB-1(result) after it (the last step of any count).
                    newFlags = cf ? RFlags.CF : 0;
                    if ((result & sign) != 0 != ((result & (sign >> 1)) != 0))
                        newFlags |= RFlags.OF;
                    affected = RFlags.CF | RFlags.OF;
                    break;
                }
        }

        cpu.Write(dst, result);
        FlagLogic.Set(cpu, newFlags, affected);
    }

    /// <summary>
    /// SHL/SAL by a masked count of 1 or more: the result, and CF and OF as EFLAGS bits. CF is the
    /// last bit shifted out (bit width-count; beyond the width only zeros leave); OF is
    /// MSB(result) XOR CF, the 1-bit rule applied to the last step.
    /// </summary>
    internal static ulong ShiftLeft(ulong value, int count, int size, out uint carryOverflow)
    {
        int width = size * 8;
        ulong result = count >= width ? 0 : (value << count) & X86Cpu.SizeMask(size);
        bool cf = count <= width && ((value >> (width - count)) & 1) != 0;
        carryOverflow = cf ? RFlags.CF : 0;
        if ((result & FlagLogic.SignBit(size)) != 0 != cf)
            carryOverflow |= RFlags.OF;
        return result;
    }

    /// <summary>
    /// SHR by a masked count of 1 or more: CF is the last bit shifted out; OF is the MSB of the
    /// operand as the last step found it (for a 1-bit shift, the MSB of the original operand).
    /// </summary>
    internal static ulong ShiftRight(ulong value, int count, int size, out uint carryOverflow)
    {
        int width = size * 8;
        ulong result = count >= width ? 0 : value >> count;
        bool cf = count <= width && ((value >> (count - 1)) & 1) != 0;
        carryOverflow = cf ? RFlags.CF : 0;
        if (((value >> (count - 1)) & FlagLogic.SignBit(size)) != 0)
            carryOverflow |= RFlags.OF;
        return result;
    }

    /// <summary>
    /// SAR by a masked count of 1 or more: CF is the last bit shifted out (past the width, the
    /// sign); OF is 0, since no step of SAR changes the sign.
    /// </summary>
    internal static ulong ShiftArithmeticRight(ulong value, int count, int size, out uint carryOverflow)
    {
        int width = size * 8;
        long signed = (long)(value << (64 - width)) >> (64 - width);
        ulong result = (ulong)(signed >> Math.Min(count, width - 1)) & X86Cpu.SizeMask(size);
        bool cf = count >= width ? signed < 0 : ((value >> (count - 1)) & 1) != 0;
        carryOverflow = cf ? RFlags.CF : 0;
        return result;
    }

    /// <summary>
    /// SHLD/SHRD dest, src, count (SDM: SHLD, SHRD): dest is shifted and filled from src. CF is the
    /// last bit shifted out of dest; for count 1 OF is set when the sign changed; SF, ZF, PF follow
    /// the result; AF is undefined (left unchanged). A count greater than the operand size (only
    /// possible with 16-bit operands) leaves the destination and all flags undefined: unchanged here.
    /// </summary>
    private static void DoublePrecision(X86Cpu cpu, in Instruction i, bool left)
    {
        int size = X86Cpu.OperandSize(i, 0);
        int count = MaskedCount(cpu, i, 2, size);
        ulong src = cpu.ReadOperand(i, 1, size);
        var dst = cpu.ResolveDestination(i, 0, size);
        ulong value = cpu.Read(dst);
        int width = size * 8;

        if (count == 0)
            WriteBackUnshifted(cpu, i, dst, value, size);
        if (count == 0 || count > width)
            return;

        ulong mask = X86Cpu.SizeMask(size);
        ulong result;
        bool cf;
        if (left)
        {
            // Bits shifted in at the bottom come from the top of src.
            result = count == width ? src : ((value << count) | (src >> (width - count))) & mask;
            cf = ((value >> (width - count)) & 1) != 0;
        }
        else
        {
            result = count == width ? src : ((value >> count) | (src << (width - count))) & mask;
            cf = ((value >> (count - 1)) & 1) != 0;
        }

        ulong sign = FlagLogic.SignBit(size);
        uint newFlags = FlagLogic.SignZeroParity(result, size) | (cf ? RFlags.CF : 0);
        if (((result ^ value) & sign) != 0)
            newFlags |= RFlags.OF;
        uint affected = RFlags.CF | RFlags.SF | RFlags.ZF | RFlags.PF | (count == 1 ? RFlags.OF : 0);
        cpu.Write(dst, result);
        FlagLogic.Set(cpu, newFlags, affected);
    }
}
