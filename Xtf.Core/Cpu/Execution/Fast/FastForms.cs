using Iced.Intel;
using Xtf.Core.Cpu.Decoding;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// Chooses, at decode time, the specialised form of an instruction (DESIGN.md section 7): the
/// common integer forms on general registers, immediates and plain memory operands, compiled per
/// operand size. Anything else (segment, control and debug registers, AH-BH, LOCK, string,
/// system and far forms) keeps the general handler, so a specialised form never re-checks what
/// it was chosen for.
/// </summary>
internal static unsafe class FastForms
{
    /// <summary>The micro-op of <paramref name="i"/>, decoded at <paramref name="bitness"/>.</summary>
    public static MicroOp Build(in Instruction i, int bitness)
    {
        ulong end = i.IP + (ulong)i.Length;
        var op = new MicroOp
        {
            Rip = i.IP,
            NextRip = bitness == 64 ? end : end & 0xFFFFFFFF, // EIP: not truncated in 16-bit code (see X86Cpu.Step)
            LastByte = end - 1,
            Length = (byte)i.Length,
        };
        if (!i.HasLockPrefix)
            op.Fast = Select(in i, bitness, ref op);
        op.Mode = (byte)(bitness | (op.Fast == null ? MicroOp.General : 0) | (LoadsStackSegment(in i) ? MicroOp.StepOnly : 0));
        op.Traits = Traits(in i);
        return op;
    }

    /// <summary>What a block compiler must know of a specialised form: whether it branches, may fault, writes memory.</summary>
    private static byte Traits(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Lea or Mnemonic.Nop:
                return 0;
            case Mnemonic.Push or Mnemonic.Call:
                return (byte)(MicroOp.MayFault | MicroOp.WritesMemory | (i.Mnemonic == Mnemonic.Call ? MicroOp.Branch : 0));
            case Mnemonic.Pop:
                return MicroOp.MayFault;
            case Mnemonic.Jmp or Mnemonic.Ret:
                return MicroOp.MayFault | MicroOp.Branch;
        }

        if (i.ConditionCode != ConditionCode.None && i.IsJccShortOrNear)
            return MicroOp.MayFault | MicroOp.Branch;
        bool memory = false;
        for (int n = 0; n < i.OpCount; n++)
            memory |= i.GetOpKind(n) == OpKind.Memory;
        if (!memory)
            return 0;
        bool store = i.Op0Kind == OpKind.Memory && i.Mnemonic is not (Mnemonic.Cmp or Mnemonic.Test);
        return (byte)(MicroOp.MayFault | (store ? MicroOp.WritesMemory : 0));
    }

    /// <summary>MOV SS and POP SS open the shadow that holds off debug traps (SDM vol. 3, 6.8.3).</summary>
    public static bool LoadsStackSegment(in Instruction i) =>
        i.Mnemonic is Mnemonic.Mov or Mnemonic.Pop && i.Op0Kind == OpKind.Register && i.Op0Register == Register.SS;

    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> Select(in Instruction i, int bitness, ref MicroOp op)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Add: return Binary<AddOp>(in i, bitness, ref op);
            case Mnemonic.Adc: return Binary<AdcOp>(in i, bitness, ref op);
            case Mnemonic.Sub: return Binary<SubOp>(in i, bitness, ref op);
            case Mnemonic.Sbb: return Binary<SbbOp>(in i, bitness, ref op);
            case Mnemonic.Cmp: return Binary<CmpOp>(in i, bitness, ref op);
            case Mnemonic.And: return Binary<AndOp>(in i, bitness, ref op);
            case Mnemonic.Or: return Binary<OrOp>(in i, bitness, ref op);
            case Mnemonic.Xor: return Binary<XorOp>(in i, bitness, ref op);
            case Mnemonic.Test: return Binary<TestOp>(in i, bitness, ref op);
            case Mnemonic.Mov: return Binary<MovOp>(in i, bitness, ref op);
            case Mnemonic.Inc: return Unary<IncOp>(in i, bitness, ref op);
            case Mnemonic.Dec: return Unary<DecOp>(in i, bitness, ref op);
            case Mnemonic.Not: return Unary<NotOp>(in i, bitness, ref op);
            case Mnemonic.Neg: return Unary<NegOp>(in i, bitness, ref op);
            case Mnemonic.Shl or Mnemonic.Sal: return Shift<ShlOp>(in i, bitness, ref op);
            case Mnemonic.Shr: return Shift<ShrOp>(in i, bitness, ref op);
            case Mnemonic.Sar: return Shift<SarOp>(in i, bitness, ref op);
            case Mnemonic.Movzx: return Extend(in i, bitness, ref op, signed: false);
            case Mnemonic.Movsx or Mnemonic.Movsxd: return Extend(in i, bitness, ref op, signed: true);
            case Mnemonic.Lea:
                if (!GeneralRegister(i.Op0Register, out op.Dst, out op.Size) || i.Op1Kind != OpKind.Memory || !Memory(in i, bitness, ref op))
                    return null;
                return BySize(op.Size, null, &StackForms<Size16>.Lea, &StackForms<Size32>.Lea, &StackForms<Size64>.Lea);
            case Mnemonic.Push: return Push(in i, ref op);
            case Mnemonic.Pop:
                if (i.Op0Kind != OpKind.Register || !GeneralRegister(i.Op0Register, out op.Dst, out op.Size) || op.Size != i.StackPointerIncrement)
                    return null;
                return BySize(op.Size, null, &StackForms<Size16>.PopR, &StackForms<Size32>.PopR, &StackForms<Size64>.PopR);
            case Mnemonic.Nop: return &StackForms<Size32>.Nop;
            case Mnemonic.Jmp:
                return NearBranch(in i, ref op) ? BySize(op.Size, null, &BranchForms<Size16>.Jmp, &BranchForms<Size32>.Jmp, &BranchForms<Size64>.Jmp) : null;
            case Mnemonic.Call:
                if (!i.IsCallNear || !NearBranch(in i, ref op) || op.Size != -i.StackPointerIncrement)
                    return null;
                return BySize(op.Size, null, &BranchForms<Size16>.Call, &BranchForms<Size32>.Call, &BranchForms<Size64>.Call);
            case Mnemonic.Ret:
                if (i.OpCount != 0)
                    return null;
                op.Size = (byte)i.StackPointerIncrement;
                return BySize(op.Size, null, &BranchForms<Size16>.Ret, &BranchForms<Size32>.Ret, &BranchForms<Size64>.Ret);
            default:
                if (i.ConditionCode == ConditionCode.None || !i.IsJccShortOrNear || !NearBranch(in i, ref op))
                    return null;
                op.Condition = (byte)(i.ConditionCode - 1);
                return i.ConditionCode switch
                {
                    ConditionCode.e => BySize(op.Size, null, &BranchForms<Size16>.Je, &BranchForms<Size32>.Je, &BranchForms<Size64>.Je),
                    ConditionCode.ne => BySize(op.Size, null, &BranchForms<Size16>.Jne, &BranchForms<Size32>.Jne, &BranchForms<Size64>.Jne),
                    _ => BySize(op.Size, null, &BranchForms<Size16>.Jcc, &BranchForms<Size32>.Jcc, &BranchForms<Size64>.Jcc),
                };
        }
    }

    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> BySize(
        int size,
        delegate*<X86Cpu, ref readonly MicroOp, ulong> bytes,
        delegate*<X86Cpu, ref readonly MicroOp, ulong> words,
        delegate*<X86Cpu, ref readonly MicroOp, ulong> doublewords,
        delegate*<X86Cpu, ref readonly MicroOp, ulong> quadwords) => size switch
        {
            1 => bytes,
            2 => words,
            4 => doublewords,
            8 => quadwords,
            _ => null,
        };

    /// <summary>Two-operand forms: register, immediate or memory source; register or memory destination.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> Binary<TOp>(in Instruction i, int bitness, ref MicroOp op)
        where TOp : struct, IBinaryOp
    {
        if (i.OpCount != 2)
            return null;
        var k0 = i.Op0Kind;
        var k1 = i.Op1Kind;
        if (k0 == OpKind.Register)
        {
            if (!GeneralRegister(i.Op0Register, out op.Dst, out op.Size))
                return null;
            if (k1 == OpKind.Register)
            {
                if (!GeneralRegister(i.Op1Register, out op.Src, out byte size) || size != op.Size)
                    return null;
                return BySize(op.Size, &BinaryForms<Size8, TOp>.RR, &BinaryForms<Size16, TOp>.RR, &BinaryForms<Size32, TOp>.RR, &BinaryForms<Size64, TOp>.RR);
            }

            if (k1 == OpKind.Memory)
            {
                if (i.MemorySize.GetSize() != op.Size || !Memory(in i, bitness, ref op))
                    return null;
                return BySize(op.Size, &BinaryForms<Size8, TOp>.RM, &BinaryForms<Size16, TOp>.RM, &BinaryForms<Size32, TOp>.RM, &BinaryForms<Size64, TOp>.RM);
            }

            op.Immediate = i.GetImmediate(1) & X86Cpu.SizeMask(op.Size);
            return BySize(op.Size, &BinaryForms<Size8, TOp>.RI, &BinaryForms<Size16, TOp>.RI, &BinaryForms<Size32, TOp>.RI, &BinaryForms<Size64, TOp>.RI);
        }

        if (k0 != OpKind.Memory || !Memory(in i, bitness, ref op))
            return null;
        op.Size = (byte)i.MemorySize.GetSize();
        if (k1 == OpKind.Register)
        {
            if (!GeneralRegister(i.Op1Register, out op.Src, out byte size) || size != op.Size)
                return null;
            return BySize(op.Size, &BinaryForms<Size8, TOp>.MR, &BinaryForms<Size16, TOp>.MR, &BinaryForms<Size32, TOp>.MR, &BinaryForms<Size64, TOp>.MR);
        }

        op.Immediate = i.GetImmediate(1) & X86Cpu.SizeMask(op.Size);
        return BySize(op.Size, &BinaryForms<Size8, TOp>.MI, &BinaryForms<Size16, TOp>.MI, &BinaryForms<Size32, TOp>.MI, &BinaryForms<Size64, TOp>.MI);
    }

    /// <summary>One-operand forms on a register or memory.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> Unary<TOp>(in Instruction i, int bitness, ref MicroOp op)
        where TOp : struct, IUnaryOp =>
        i.OpCount == 1 ? RegisterOrMemory<TOp>(in i, bitness, ref op) : null;

    /// <summary>
    /// SHL/SHR/SAR by an immediate (or the implicit 1): the count is masked here, to 5 bits or 6
    /// for 64-bit operands; a masked count of 0 changes nothing and stays with the general handler.
    /// </summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> Shift<TOp>(in Instruction i, int bitness, ref MicroOp op)
        where TOp : struct, IUnaryOp
    {
        if (i.OpCount != 2 || i.Op1Kind != OpKind.Immediate8)
            return null;
        int size = i.Op0Kind == OpKind.Register ? i.Op0Register.GetSize() : i.MemorySize.GetSize();
        op.Immediate = i.Immediate8 & (size == 8 ? 0x3Fu : 0x1Fu);
        return op.Immediate == 0 ? null : RegisterOrMemory<TOp>(in i, bitness, ref op);
    }

    /// <summary>The register (R) or memory (M) form of a one-operand operation on operand 0.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> RegisterOrMemory<TOp>(in Instruction i, int bitness, ref MicroOp op)
        where TOp : struct, IUnaryOp
    {
        if (i.Op0Kind == OpKind.Register)
        {
            if (!GeneralRegister(i.Op0Register, out op.Dst, out op.Size))
                return null;
            return BySize(op.Size, &UnaryForms<Size8, TOp>.R, &UnaryForms<Size16, TOp>.R, &UnaryForms<Size32, TOp>.R, &UnaryForms<Size64, TOp>.R);
        }

        if (i.Op0Kind != OpKind.Memory || !Memory(in i, bitness, ref op))
            return null;
        op.Size = (byte)i.MemorySize.GetSize();
        return BySize(op.Size, &UnaryForms<Size8, TOp>.M, &UnaryForms<Size16, TOp>.M, &UnaryForms<Size32, TOp>.M, &UnaryForms<Size64, TOp>.M);
    }

    /// <summary>MOVZX/MOVSX/MOVSXD from a register or memory into a 16-, 32- or 64-bit register.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> Extend(in Instruction i, int bitness, ref MicroOp op, bool signed)
    {
        if (!GeneralRegister(i.Op0Register, out op.Dst, out byte destination))
            return null;
        int source;
        bool fromMemory = i.Op1Kind == OpKind.Memory;
        if (fromMemory)
        {
            if (!Memory(in i, bitness, ref op))
                return null;
            source = i.MemorySize.GetSize();
        }
        else if (i.Op1Kind != OpKind.Register || !GeneralRegister(i.Op1Register, out op.Src, out byte s))
        {
            return null;
        }
        else
        {
            source = s;
        }

        op.Size = (byte)source;
        return (destination, source, signed, fromMemory) switch
        {
            (2, 1, false, false) => &ExtendForms<Size16, Size8>.ZeroR,
            (2, 1, false, true) => &ExtendForms<Size16, Size8>.ZeroM,
            (2, 1, true, false) => &ExtendForms<Size16, Size8>.SignR,
            (2, 1, true, true) => &ExtendForms<Size16, Size8>.SignM,
            (4, 1, false, false) => &ExtendForms<Size32, Size8>.ZeroR,
            (4, 1, false, true) => &ExtendForms<Size32, Size8>.ZeroM,
            (4, 1, true, false) => &ExtendForms<Size32, Size8>.SignR,
            (4, 1, true, true) => &ExtendForms<Size32, Size8>.SignM,
            (4, 2, false, false) => &ExtendForms<Size32, Size16>.ZeroR,
            (4, 2, false, true) => &ExtendForms<Size32, Size16>.ZeroM,
            (4, 2, true, false) => &ExtendForms<Size32, Size16>.SignR,
            (4, 2, true, true) => &ExtendForms<Size32, Size16>.SignM,
            (8, 1, false, false) => &ExtendForms<Size64, Size8>.ZeroR,
            (8, 1, false, true) => &ExtendForms<Size64, Size8>.ZeroM,
            (8, 1, true, false) => &ExtendForms<Size64, Size8>.SignR,
            (8, 1, true, true) => &ExtendForms<Size64, Size8>.SignM,
            (8, 2, false, false) => &ExtendForms<Size64, Size16>.ZeroR,
            (8, 2, false, true) => &ExtendForms<Size64, Size16>.ZeroM,
            (8, 2, true, false) => &ExtendForms<Size64, Size16>.SignR,
            (8, 2, true, true) => &ExtendForms<Size64, Size16>.SignM,
            (8, 4, true, false) => &ExtendForms<Size64, Size32>.SignR,
            (8, 4, true, true) => &ExtendForms<Size64, Size32>.SignM,
            _ => null,
        };
    }

    /// <summary>PUSH r / PUSH imm: the slot size is the instruction's stack-pointer decrement.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, ulong> Push(in Instruction i, ref MicroOp op)
    {
        op.Size = (byte)-i.StackPointerIncrement;
        if (i.Op0Kind == OpKind.Register)
        {
            if (!GeneralRegister(i.Op0Register, out op.Src, out byte size) || size != op.Size)
                return null;
            return BySize(op.Size, null, &StackForms<Size16>.PushR, &StackForms<Size32>.PushR, &StackForms<Size64>.PushR);
        }

        if (i.Op0Kind is not (OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64
            or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate32to64))
            return null;
        op.Immediate = i.GetImmediate(0) & X86Cpu.SizeMask(op.Size);
        return BySize(op.Size, null, &StackForms<Size16>.PushI, &StackForms<Size32>.PushI, &StackForms<Size64>.PushI);
    }

    /// <summary>A relative near branch: its target (resolved by the decoder, masked to the operand size) and size.</summary>
    private static bool NearBranch(in Instruction i, ref MicroOp op)
    {
        op.Size = i.Op0Kind switch
        {
            OpKind.NearBranch16 => 2,
            OpKind.NearBranch32 => 4,
            OpKind.NearBranch64 => 8,
            _ => 0,
        };
        op.Immediate = i.NearBranchTarget & X86Cpu.SizeMask(op.Size);
        return op.Size != 0;
    }

    /// <summary>
    /// A general register usable as a plain index: RAX-R15 at 8, 4 or 2 bytes, or a low byte
    /// register. AH, CH, DH and BH (bits 15:8) are left to the general handler.
    /// </summary>
    private static bool GeneralRegister(Register r, out byte index, out byte size)
    {
        (index, size) = r switch
        {
            >= Register.RAX and <= Register.R15 => ((byte)(r - Register.RAX), (byte)8),
            >= Register.EAX and <= Register.R15D => ((byte)(r - Register.EAX), (byte)4),
            >= Register.AX and <= Register.R15W => ((byte)(r - Register.AX), (byte)2),
            >= Register.AL and <= Register.BL => ((byte)(r - Register.AL), (byte)1),
            >= Register.SPL and <= Register.R15L => ((byte)(r - Register.AL - 4), (byte)1),
            _ => (MicroOp.NoRegister, (byte)0),
        };
        return size != 0;
    }

    /// <summary>The memory operand: base, index, scale, displacement, segment and address size.</summary>
    private static bool Memory(in Instruction i, int bitness, ref MicroOp op)
    {
        var b = i.MemoryBase;
        var x = i.MemoryIndex;
        op.Segment = (byte)X86Cpu.MemorySegment(i);
        op.Displacement = i.MemoryDisplacement64;
        op.Base = op.Index = MicroOp.NoRegister;
        if (b is Register.RIP or Register.EIP)
        {
            // The decoder has already added the next RIP: the displacement is the target.
            op.AddressMask = b == Register.EIP ? 0xFFFFFFFF : ulong.MaxValue;
            return x == Register.None;
        }

        if (b != Register.None && (!GeneralRegister(b, out op.Base, out byte baseSize) || baseSize == 1))
            return false;
        if (x != Register.None && (!GeneralRegister(x, out op.Index, out byte indexSize) || indexSize == 1))
            return false;
        op.Scale = (byte)System.Numerics.BitOperations.Log2((uint)i.MemoryIndexScale);
        op.AddressMask = X86Cpu.SizeMask(X86Cpu.AddressSize(in i, bitness));
        return op.Segment < 6;
    }
}
