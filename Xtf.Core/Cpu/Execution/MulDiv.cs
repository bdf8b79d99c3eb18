using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// Multiply and divide: MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV (SDM vol. 2).
/// The 8-bit forms use AX; wider forms use (E/R)DX:(E/R)AX. Flags the SDM calls undefined (SF, ZF,
/// AF, PF after MUL/IMUL; all six after DIV/IDIV) are left unchanged.
/// </summary>
internal static class MulDiv
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Mul, Mul);
        add(Mnemonic.Imul, Imul);
        add(Mnemonic.Div, (X86Cpu c, in Instruction i) => Divide(c, i, signed: false));
        add(Mnemonic.Idiv, (X86Cpu c, in Instruction i) => Divide(c, i, signed: true));
    }

    /// <summary>Sign-extends the low <paramref name="size"/> bytes of <paramref name="v"/>.</summary>
    private static long SignExtend(ulong v, int size)
    {
        int shift = 64 - (size * 8);
        return (long)(v << shift) >> shift;
    }

    /// <summary>Stores a double-width product: AX for 8-bit operands, else (E/R)DX:(E/R)AX.</summary>
    private static void WriteProduct(X86Cpu cpu, int size, UInt128 product)
    {
        int width = size * 8;
        if (size == 1)
        {
            cpu.WriteGpr(X86Cpu.RAX, 2, (ulong)product);
            return;
        }

        cpu.WriteGpr(X86Cpu.RAX, size, (ulong)product);
        cpu.WriteGpr(X86Cpu.RDX, size, (ulong)(product >> width));
    }

    /// <summary>MUL: unsigned; CF = OF = 1 when the upper half of the product is non-zero.</summary>
    private static void Mul(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong src = cpu.ReadOperand(i, 0, size);
        ulong acc = cpu.ReadGpr(X86Cpu.RAX, size);
        UInt128 product = (UInt128)acc * src;
        WriteProduct(cpu, size, product);
        bool upper = (product >> (size * 8)) != 0;
        FlagLogic.Set(cpu, upper ? RFlags.CF | RFlags.OF : 0, RFlags.CF | RFlags.OF);
    }

    /// <summary>
    /// IMUL: signed. One operand: the double-width product into AX or DX:AX; CF = OF = 1 when the
    /// upper half is not the sign extension of the lower half. Two and three operands: the product
    /// truncated to the destination size; CF = OF = 1 when truncation changed the signed value.
    /// </summary>
    private static void Imul(X86Cpu cpu, in Instruction i)
    {
        if (i.OpCount == 1)
        {
            int size = X86Cpu.OperandSize(i, 0);
            long src = SignExtend(cpu.ReadOperand(i, 0, size), size);
            long acc = SignExtend(cpu.ReadGpr(X86Cpu.RAX, size), size);
            Int128 product = (Int128)acc * src;
            WriteProduct(cpu, size, (UInt128)product);
            SetOverflow(cpu, product, size);
            return;
        }

        int dsize = X86Cpu.OperandSize(i, 0);
        // Two-operand form: dest * r/m; three-operand form: r/m * sign-extended immediate.
        int first = i.OpCount == 2 ? 0 : 1, second = i.OpCount == 2 ? 1 : 2;
        long a = SignExtend(cpu.ReadOperand(i, first, dsize), dsize);
        long b = SignExtend(cpu.ReadOperand(i, second, dsize), dsize);
        Int128 full = (Int128)a * b;
        cpu.WriteOperand(i, 0, dsize, (ulong)(long)full);
        SetOverflow(cpu, full, dsize);
    }

    /// <summary>CF = OF = 1 when <paramref name="product"/> does not fit a signed <paramref name="size"/>-byte integer.</summary>
    private static void SetOverflow(X86Cpu cpu, Int128 product, int size)
    {
        bool fits = SignExtend((ulong)(long)product, size) == product;
        FlagLogic.Set(cpu, fits ? 0 : RFlags.CF | RFlags.OF, RFlags.CF | RFlags.OF);
    }

    /// <summary>
    /// DIV/IDIV: the double-width dividend (AX, DX:AX, EDX:EAX, RDX:RAX) by r/m. #DE when the
    /// divisor is 0 or the quotient does not fit the destination (including IDIV of the most
    /// negative dividend by -1). The quotient is truncated toward zero; the remainder has the
    /// sign of the dividend. Nothing is written before the checks pass.
    /// </summary>
    private static void Divide(X86Cpu cpu, in Instruction i, bool signed)
    {
        int size = X86Cpu.OperandSize(i, 0);
        int width = size * 8;
        ulong divisor = cpu.ReadOperand(i, 0, size);
        if (divisor == 0)
            throw new CpuFault(X86Vector.DE);

        UInt128 dividend = size == 1
            ? cpu.ReadGpr(X86Cpu.RAX, 2)
            : ((UInt128)cpu.ReadGpr(X86Cpu.RDX, size) << width) | cpu.ReadGpr(X86Cpu.RAX, size);
        ulong quotient, remainder;
        if (signed)
        {
            // Sign-extend the 2*width-bit dividend to 128 bits.
            int shift = 128 - (2 * width);
            Int128 n = (Int128)(dividend << shift) >> shift;
            Int128 d = SignExtend(divisor, size);
            Int128 q = n / d;
            Int128 r = n % d;
            Int128 max = (Int128.One << (width - 1)) - 1, min = -(Int128.One << (width - 1));
            if (q > max || q < min)
                throw new CpuFault(X86Vector.DE);
            quotient = (ulong)(long)q;
            remainder = (ulong)(long)r;
        }
        else
        {
            UInt128 q = dividend / divisor;
            if (q > X86Cpu.SizeMask(size))
                throw new CpuFault(X86Vector.DE);
            quotient = (ulong)q;
            remainder = (ulong)(dividend % divisor);
        }

        if (size == 1)
        {
            cpu.WriteGpr(X86Cpu.RAX, 2, (quotient & 0xFF) | ((remainder & 0xFF) << 8));
            return;
        }

        cpu.WriteGpr(X86Cpu.RAX, size, quotient);
        cpu.WriteGpr(X86Cpu.RDX, size, remainder);
    }
}
