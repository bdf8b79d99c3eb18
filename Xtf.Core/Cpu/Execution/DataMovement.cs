using Iced.Intel;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Data movement: MOV, MOVZX, MOVSX(D), LEA, XCHG, PUSH/POP(A), CMOVcc, SETcc, conversions, BSWAP, XLAT, NOP, WAIT.</summary>
internal static class DataMovement
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Mov, Mov);
        add(Mnemonic.Movbe, Movbe);
        add(Mnemonic.Movzx, Movzx);
        add(Mnemonic.Movsx, Movsx);
        add(Mnemonic.Movsxd, Movsx);
        add(Mnemonic.Lea, Lea);
        add(Mnemonic.Xchg, Xchg);
        add(Mnemonic.Push, Push);
        add(Mnemonic.Pop, Pop);
        add(Mnemonic.Pushad, (X86Cpu c, in Instruction i) => PushAll(c, 4));
        add(Mnemonic.Pusha, (X86Cpu c, in Instruction i) => PushAll(c, 2));
        add(Mnemonic.Popad, (X86Cpu c, in Instruction i) => PopAll(c, 4));
        add(Mnemonic.Popa, (X86Cpu c, in Instruction i) => PopAll(c, 2));
        add(Mnemonic.Nop, static (X86Cpu c, in Instruction i) => { });
        add(Mnemonic.Pause, static (X86Cpu c, in Instruction i) => { });
        add(Mnemonic.Cbw, (X86Cpu c, in Instruction i) => c.WriteGpr(X86Cpu.RAX, 2, (ulong)(long)(sbyte)c.ReadGpr(X86Cpu.RAX, 1)));
        add(Mnemonic.Cwde, (X86Cpu c, in Instruction i) => c.WriteGpr(X86Cpu.RAX, 4, (ulong)(long)(short)c.ReadGpr(X86Cpu.RAX, 2)));
        add(Mnemonic.Cdqe, (X86Cpu c, in Instruction i) => c.WriteGpr(X86Cpu.RAX, 8, (ulong)(long)(int)c.ReadGpr(X86Cpu.RAX, 4)));
        add(Mnemonic.Cwd, (X86Cpu c, in Instruction i) => SignIntoDx(c, 2));
        add(Mnemonic.Cdq, (X86Cpu c, in Instruction i) => SignIntoDx(c, 4));
        add(Mnemonic.Cqo, (X86Cpu c, in Instruction i) => SignIntoDx(c, 8));
        add(Mnemonic.Bswap, Bswap);
        add(Mnemonic.Xlatb, Xlat);
        foreach (var m in ConditionalMnemonics("Cmov"))
            add(m, Cmov);
        foreach (var m in ConditionalMnemonics("Set"))
            add(m, Setcc);
    }

    /// <summary>The 16 condition-code forms of a family (Cmovo ... Cmovg), by Iced's naming.</summary>
    internal static IEnumerable<Mnemonic> ConditionalMnemonics(string prefix)
    {
        string[] cc = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
        foreach (var c in cc)
            yield return Enum.Parse<Mnemonic>(prefix + c, ignoreCase: true);
    }

    private static void Mov(X86Cpu cpu, in Instruction i)
    {
        var k0 = i.GetOpKind(0);
        if (k0 == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            // MOV Sreg, r/m16 (SDM: MOV). Loading CS this way is #UD.
            int seg = i.Op0Register - Register.ES;
            if (seg == X86Cpu.CS)
                throw CpuFault.UD();
            cpu.LoadSegment(seg, (ushort)cpu.ReadOperand(i, 1, 2));
            if (seg == X86Cpu.SS)
                cpu.InhibitInterrupts();
            return;
        }

        if (i.GetOpKind(1) == OpKind.Register && i.Op1Register.IsSegmentRegister())
        {
            // MOV r/m, Sreg: a 16-bit store to memory; a register destination is zero-extended.
            ulong sel = cpu.Segments[i.Op1Register - Register.ES].Selector;
            int dsize = k0 == OpKind.Memory ? 2 : X86Cpu.OperandSize(i, 0);
            cpu.WriteOperand(i, 0, dsize, sel);
            return;
        }

        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsCR())
        {
            SystemInstructions.MovToCr(cpu, i);
            return;
        }

        if (i.Op1Kind == OpKind.Register && i.Op1Register.IsCR())
        {
            SystemInstructions.MovFromCr(cpu, i);
            return;
        }

        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsDR() || i.Op1Kind == OpKind.Register && i.Op1Register.IsDR())
        {
            SystemInstructions.MovDr(cpu, i);
            return;
        }

        int size = X86Cpu.OperandSize(i, 0);
        cpu.WriteOperand(i, 0, size, cpu.ReadOperand(i, 1, size));
    }

    private static void Movzx(X86Cpu cpu, in Instruction i)
    {
        ulong v = cpu.ReadOperand(i, 1, X86Cpu.OperandSize(i, 1));
        cpu.WriteOperand(i, 0, X86Cpu.OperandSize(i, 0), v);
    }

    private static void Movsx(X86Cpu cpu, in Instruction i)
    {
        int srcSize = X86Cpu.OperandSize(i, 1);
        ulong v = cpu.ReadOperand(i, 1, srcSize);
        int shift = 64 - (srcSize * 8);
        cpu.WriteOperand(i, 0, X86Cpu.OperandSize(i, 0), (ulong)((long)(v << shift) >> shift));
    }

    /// <summary>LEA: the effective address, truncated or zero-extended to the operand size.</summary>
    private static void Lea(X86Cpu cpu, in Instruction i)
    {
        if (i.Op1Kind != OpKind.Memory)
            throw CpuFault.UD();
        cpu.WriteOperand(i, 0, X86Cpu.OperandSize(i, 0), cpu.EffectiveAddress(i));
    }

    private static void Xchg(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        var a = cpu.ResolveDestination(i, 0, size);
        var b = cpu.ResolveDestination(i, 1, size);
        ulong va = cpu.Read(a), vb = cpu.Read(b);
        cpu.Write(a, vb);
        cpu.Write(b, va);
    }

    /// <summary>PUSH: the operand size is the instruction's stack size (Iced's MemorySize / register size).</summary>
    private static void Push(X86Cpu cpu, in Instruction i)
    {
        int size = i.StackPointerIncrement == 0 ? 4 : -i.StackPointerIncrement;
        var k = i.Op0Kind;
        if (k == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            // A segment register push writes 16 bits (on modern processors) into a full slot.
            cpu.Push(cpu.Segments[i.Op0Register - Register.ES].Selector, size);
            return;
        }

        ulong v = cpu.ReadOperand(i, 0, size);
        cpu.Push(v, size);
    }

    /// <summary>POP: RSP is incremented before a memory destination that uses RSP is computed (SDM: POP).</summary>
    private static void Pop(X86Cpu cpu, in Instruction i)
    {
        int size = i.StackPointerIncrement;
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            int seg = i.Op0Register - Register.ES;
            ushort sel = (ushort)cpu.PeekStack(0, size);
            cpu.LoadSegment(seg, sel);
            cpu.StackPointer += (ulong)size;
            if (seg == X86Cpu.SS)
                cpu.InhibitInterrupts();
            return;
        }

        ulong v = cpu.PeekStack(0, size);
        ulong oldSp = cpu.StackPointer;
        cpu.StackPointer = oldSp + (ulong)size;
        try
        {
            cpu.WriteOperand(i, 0, size, v);
        }
        catch (CpuFault)
        {
            cpu.StackPointer = oldSp;
            throw;
        }
    }

    /// <summary>
    /// MOVBE r, m / m, r (SDM: MOVBE; CPUID.1:ECX.MOVBE): a 16-, 32- or 64-bit move with its bytes
    /// swapped; one operand is always memory (the register-register encoding is CRC32 or #UD).
    /// </summary>
    private static void Movbe(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong v = cpu.ReadOperand(i, 1, size);
        ulong swapped = size switch
        {
            2 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((ushort)v),
            4 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v),
            _ => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v),
        };
        cpu.WriteOperand(i, 0, size, swapped);
    }

    /// <summary>PUSHA/PUSHAD: AX, CX, DX, BX, original SP, BP, SI, DI.</summary>
    private static void PushAll(X86Cpu cpu, int size)
    {
        // SDM: PUSHA is eight pushes, each wrapping within the stack-address size; in real mode only
        // an SP of 7, 9, 11, 13 or 15 faults (one slot straddles offset 0xFFFF). All eight slots
        // are checked before the first is written so a fault commits nothing.
        ulong mask = X86Cpu.SizeMask(cpu.StackAddressSize);
        for (int n = 1; n <= 8; n++)
        {
            ulong la = cpu.LinearAddress(X86Cpu.SS, (cpu.StackPointer - (ulong)(n * size)) & mask, size, AccessKind.Write);
            cpu.CheckWritable(la, size);
        }

        ulong sp = cpu.ReadGpr(X86Cpu.RSP, size);
        for (int r = 0; r < 8; r++)
            cpu.Push(r == X86Cpu.RSP ? sp : cpu.ReadGpr(r, size), size);
    }

    /// <summary>POPA/POPAD: DI, SI, BP, (skip SP), BX, DX, CX, AX.</summary>
    private static void PopAll(X86Cpu cpu, int size)
    {
        var values = new ulong[8];
        for (int r = 7; r >= 0; r--)
            values[r] = cpu.PeekStack((7 - r) * size, size);
        for (int r = 0; r < 8; r++)
        {
            if (r != X86Cpu.RSP)
                cpu.WriteGpr(r, size, values[r]);
        }

        cpu.StackPointer += (ulong)(8 * size);
    }

    private static void SignIntoDx(X86Cpu cpu, int size)
    {
        bool negative = (cpu.ReadGpr(X86Cpu.RAX, size) & FlagLogic.SignBit(size)) != 0;
        cpu.WriteGpr(X86Cpu.RDX, size, negative ? ulong.MaxValue : 0);
    }

    private static void Bswap(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong v = cpu.ReadOperand(i, 0, size);
        // BSWAP of a 16-bit register is undefined; processors leave it as zero.
        ulong r = size switch
        {
            8 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v),
            4 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v),
            _ => 0,
        };
        cpu.WriteOperand(i, 0, size, r);
    }

    /// <summary>XLAT: AL = [seg:(E/R)BX + zero-extended AL].</summary>
    private static void Xlat(X86Cpu cpu, in Instruction i)
    {
        int addr = cpu.AddressSize(i);
        ulong ea = (cpu.ReadGpr(X86Cpu.RBX, addr) + cpu.ReadGpr(X86Cpu.RAX, 1)) & X86Cpu.SizeMask(addr);
        cpu.WriteGpr(X86Cpu.RAX, 1, cpu.ReadLogical(X86Cpu.MemorySegment(i), ea, 1));
    }

    /// <summary>CMOVcc: the source is always read; a 32-bit destination is zero-extended even when false.</summary>
    private static void Cmov(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong v = cpu.ReadOperand(i, 1, size);
        if (cpu.Condition((int)i.ConditionCode - 1))
            cpu.WriteOperand(i, 0, size, v);
        else if (size == 4)
            cpu.WriteOperand(i, 0, size, cpu.ReadOperand(i, 0, size));
    }

    private static void Setcc(X86Cpu cpu, in Instruction i) =>
        cpu.WriteOperand(i, 0, 1, cpu.Condition((int)i.ConditionCode - 1) ? 1ul : 0);
}
