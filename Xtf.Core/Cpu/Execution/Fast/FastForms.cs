using Iced.Intel;
using Xtf.Core.Cpu.Decoding;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// Chooses, at decode time, the specialised form of an instruction (DESIGN.md section 7): the
/// common integer forms on general registers, immediates and plain memory operands. Anything
/// else (segment, control and debug registers, AH-BH, LOCK, string, system and far forms) keeps
/// the general handler, so a specialised form never has to re-check what it was chosen for.
/// </summary>
internal static unsafe class FastForms
{
    /// <summary>The micro-op of <paramref name="i"/>, decoded at <paramref name="bitness"/>.</summary>
    public static MicroOp Build(in Instruction i, int bitness)
    {
        var op = new MicroOp
        {
            Rip = i.IP,
            Bitness = (byte)bitness,
            Length = (byte)i.Length,
            StepOnly = LoadsStackSegment(in i),
        };
        if (!i.HasLockPrefix)
            op.Fast = Select(in i, bitness, ref op);
        return op;
    }

    /// <summary>MOV SS and POP SS open the shadow that holds off debug traps (SDM vol. 3, 6.8.3).</summary>
    public static bool LoadsStackSegment(in Instruction i) =>
        i.Mnemonic is Mnemonic.Mov or Mnemonic.Pop && i.Op0Kind == OpKind.Register && i.Op0Register == Register.SS;

    private static delegate*<X86Cpu, ref readonly MicroOp, void> Select(in Instruction i, int bitness, ref MicroOp op)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Add: return Alu(in i, bitness, ref op, &FastAlu.AddRR, &FastAlu.AddRI, &FastAlu.AddRM, &FastAlu.AddMR, &FastAlu.AddMI);
            case Mnemonic.Sub: return Alu(in i, bitness, ref op, &FastAlu.SubRR, &FastAlu.SubRI, &FastAlu.SubRM, &FastAlu.SubMR, &FastAlu.SubMI);
            case Mnemonic.Adc: return Alu(in i, bitness, ref op, &FastAlu.AdcRR, &FastAlu.AdcRI, null, null, null);
            case Mnemonic.Sbb: return Alu(in i, bitness, ref op, &FastAlu.SbbRR, &FastAlu.SbbRI, null, null, null);
            case Mnemonic.Cmp: return Alu(in i, bitness, ref op, &FastAlu.CmpRR, &FastAlu.CmpRI, &FastAlu.CmpRM, &FastAlu.CmpMR, &FastAlu.CmpMI);
            case Mnemonic.And: return Alu(in i, bitness, ref op, &FastAlu.AndRR, &FastAlu.AndRI, null, null, null);
            case Mnemonic.Or: return Alu(in i, bitness, ref op, &FastAlu.OrRR, &FastAlu.OrRI, null, null, null);
            case Mnemonic.Xor: return Alu(in i, bitness, ref op, &FastAlu.XorRR, &FastAlu.XorRI, null, null, null);
            case Mnemonic.Test: return Alu(in i, bitness, ref op, &FastAlu.TestRR, &FastAlu.TestRI, null, null, null);
            case Mnemonic.Mov: return Alu(in i, bitness, ref op, &FastMoves.MovRR, &FastMoves.MovRI, &FastMoves.MovRM, &FastMoves.MovMR, &FastMoves.MovMI);
            case Mnemonic.Inc: return OneRegister(in i, ref op) ? &FastAlu.IncR : null;
            case Mnemonic.Dec: return OneRegister(in i, ref op) ? &FastAlu.DecR : null;
            case Mnemonic.Movzx: return Extend(in i, bitness, ref op, &FastMoves.MovzxRR, &FastMoves.MovzxRM);
            case Mnemonic.Movsx or Mnemonic.Movsxd: return Extend(in i, bitness, ref op, &FastMoves.MovsxRR, &FastMoves.MovsxRM);
            case Mnemonic.Lea:
                return GeneralRegister(i.Op0Register, out op.Dst, out op.Size) && i.Op1Kind == OpKind.Memory && Memory(in i, bitness, ref op)
                    ? &FastMoves.Lea : null;
            case Mnemonic.Push: return Push(in i, ref op);
            case Mnemonic.Pop:
                if (i.Op0Kind != OpKind.Register || !GeneralRegister(i.Op0Register, out op.Dst, out _))
                    return null;
                op.Size = (byte)i.StackPointerIncrement;
                return &FastMoves.PopR;
            case Mnemonic.Nop: return &FastMoves.Nop;
            case Mnemonic.Jmp: return NearBranch(in i, ref op) ? &FastBranches.Jmp : null;
            case Mnemonic.Call:
                if (!i.IsCallNear || !NearBranch(in i, ref op))
                    return null;
                op.Size = (byte)-i.StackPointerIncrement;
                return &FastBranches.Call;
            case Mnemonic.Ret:
                if (i.OpCount != 0)
                    return null;
                op.Size = (byte)i.StackPointerIncrement;
                return &FastBranches.Ret;
            default:
                if (i.ConditionCode == ConditionCode.None || !i.IsJccShortOrNear || !NearBranch(in i, ref op))
                    return null;
                op.Condition = (byte)(i.ConditionCode - 1);
                return &FastBranches.Jcc;
        }
    }

    /// <summary>Two-operand forms: register, immediate or memory source; register or memory destination.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, void> Alu(
        in Instruction i,
        int bitness,
        ref MicroOp op,
        delegate*<X86Cpu, ref readonly MicroOp, void> rr,
        delegate*<X86Cpu, ref readonly MicroOp, void> ri,
        delegate*<X86Cpu, ref readonly MicroOp, void> rm,
        delegate*<X86Cpu, ref readonly MicroOp, void> mr,
        delegate*<X86Cpu, ref readonly MicroOp, void> mi)
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
                return GeneralRegister(i.Op1Register, out op.Src, out byte size) && size == op.Size ? rr : null;
            if (k1 == OpKind.Memory)
                return i.MemorySize.GetSize() == op.Size && Memory(in i, bitness, ref op) ? rm : null;
            op.Immediate = i.GetImmediate(1) & X86Cpu.SizeMask(op.Size);
            return ri;
        }

        if (k0 != OpKind.Memory || !Memory(in i, bitness, ref op))
            return null;
        op.Size = (byte)i.MemorySize.GetSize();
        if (k1 == OpKind.Register)
            return GeneralRegister(i.Op1Register, out op.Src, out byte size) && size == op.Size ? mr : null;
        op.Immediate = i.GetImmediate(1) & X86Cpu.SizeMask(op.Size);
        return mi;
    }

    private static bool OneRegister(in Instruction i, ref MicroOp op) =>
        i.Op0Kind == OpKind.Register && GeneralRegister(i.Op0Register, out op.Dst, out op.Size);

    /// <summary>MOVZX/MOVSX: <see cref="MicroOp.Size"/> is the source size, the immediate the destination size.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, void> Extend(
        in Instruction i,
        int bitness,
        ref MicroOp op,
        delegate*<X86Cpu, ref readonly MicroOp, void> fromRegister,
        delegate*<X86Cpu, ref readonly MicroOp, void> fromMemory)
    {
        if (!GeneralRegister(i.Op0Register, out op.Dst, out byte destination))
            return null;
        op.Immediate = destination;
        if (i.Op1Kind == OpKind.Register)
            return GeneralRegister(i.Op1Register, out op.Src, out op.Size) ? fromRegister : null;
        if (i.Op1Kind != OpKind.Memory || !Memory(in i, bitness, ref op))
            return null;
        op.Size = (byte)i.MemorySize.GetSize();
        return fromMemory;
    }

    /// <summary>PUSH r / PUSH imm: the slot size is the instruction's stack-pointer decrement.</summary>
    private static delegate*<X86Cpu, ref readonly MicroOp, void> Push(in Instruction i, ref MicroOp op)
    {
        op.Size = (byte)-i.StackPointerIncrement;
        if (i.Op0Kind == OpKind.Register)
            return GeneralRegister(i.Op0Register, out op.Src, out byte size) && size == op.Size ? &FastMoves.PushR : null;
        if (i.Op0Kind is OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64
            or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate32to64)
        {
            op.Immediate = i.GetImmediate(0) & X86Cpu.SizeMask(op.Size);
            return &FastMoves.PushI;
        }

        return null;
    }

    /// <summary>A relative near branch: its target (resolved by the decoder) and operand size.</summary>
    private static bool NearBranch(in Instruction i, ref MicroOp op)
    {
        op.Size = i.Op0Kind switch
        {
            OpKind.NearBranch16 => 2,
            OpKind.NearBranch32 => 4,
            OpKind.NearBranch64 => 8,
            _ => 0,
        };
        op.Immediate = i.NearBranchTarget;
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
        op.Segment = (byte)(i.MemorySegment - Register.ES);
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
