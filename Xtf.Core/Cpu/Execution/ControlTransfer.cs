using Iced.Intel;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Branches: JMP, Jcc, CALL, RET (near and far), LOOPcc, JCXZ, ENTER, LEAVE.</summary>
internal static class ControlTransfer
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Jmp, Jmp);
        add(Mnemonic.Call, Call);
        add(Mnemonic.Ret, Ret);
        add(Mnemonic.Retf, Retf);
        foreach (var m in DataMovement.ConditionalMnemonics("J"))
            add(m, Jcc);
        add(Mnemonic.Loop, (X86Cpu c, in Instruction i) => Loop(c, i, 0));
        add(Mnemonic.Loope, (X86Cpu c, in Instruction i) => Loop(c, i, 1));
        add(Mnemonic.Loopne, (X86Cpu c, in Instruction i) => Loop(c, i, 2));
        add(Mnemonic.Jcxz, (X86Cpu c, in Instruction i) => JumpIfCounterZero(c, i, 2));
        add(Mnemonic.Jecxz, (X86Cpu c, in Instruction i) => JumpIfCounterZero(c, i, 4));
        add(Mnemonic.Jrcxz, (X86Cpu c, in Instruction i) => JumpIfCounterZero(c, i, 8));
        add(Mnemonic.Leave, Leave);
        add(Mnemonic.Enter, Enter);
    }

    /// <summary>
    /// Operand size of a near branch (SDM: JMP/CALL, "operand-size attribute"): from the relative
    /// target's width, the indirect operand's size, or the stack slot of CALL/RET.
    /// </summary>
    private static int NearSize(in Instruction i)
    {
        if (i.Mnemonic == Mnemonic.Ret)
            return RetSize(i);
        if (i.IsCallNear || i.IsCallNearIndirect)
            return -i.StackPointerIncrement;
        return i.Op0Kind switch
        {
            OpKind.NearBranch16 => 2,
            OpKind.NearBranch32 => 4,
            OpKind.NearBranch64 => 8,
            _ => X86Cpu.OperandSize(i, 0),
        };
    }

    internal static int RetSize(in Instruction i) => i.Code switch
    {
        Code.Retnw or Code.Retnw_imm16 or Code.Retfw or Code.Retfw_imm16 => 2,
        Code.Retnq or Code.Retnq_imm16 or Code.Retfq or Code.Retfq_imm16 => 8,
        _ => 4,
    };

    /// <summary>A near branch to <paramref name="target"/> at operand size <paramref name="size"/>.</summary>
    internal static void BranchTo(X86Cpu cpu, ulong target, int size)
    {
        cpu.NextRip = CheckedTarget(cpu, target & X86Cpu.SizeMask(size));
        cpu.NearBranchTaken = true;
    }

    /// <summary>
    /// Near branch target check (SDM: JMP): outside 64-bit mode the target must be within the CS
    /// limit, in 64-bit mode canonical; otherwise #GP(0) with nothing changed.
    /// </summary>
    internal static ulong CheckedTarget(X86Cpu cpu, ulong target)
    {
        if (cpu.Bitness == 64)
        {
            if (!X86Cpu.IsCanonical(target))
                throw CpuFault.GP(0);
        }
        else if (target > cpu.Segments[X86Cpu.CS].Limit)
        {
            throw CpuFault.GP(0);
        }

        return target;
    }

    private static void Jmp(X86Cpu cpu, in Instruction i)
    {
        if (i.IsJmpFar || i.IsJmpFarIndirect)
        {
            var (selector, offset, farSize) = FarPointer(cpu, i);
            cpu.FarJump(selector, offset, farSize);
            return;
        }

        int size = NearSize(i);
        ulong target = i.IsJmpNearIndirect ? cpu.ReadOperand(i, 0, size) : i.NearBranchTarget;
        BranchTo(cpu, target, size);
    }

    private static void Jcc(X86Cpu cpu, in Instruction i)
    {
        if (cpu.Condition((int)i.ConditionCode - 1))
            BranchTo(cpu, i.NearBranchTarget, NearSize(i));
    }

    private static void Call(X86Cpu cpu, in Instruction i)
    {
        if (i.IsCallFar || i.IsCallFarIndirect)
        {
            CallFar(cpu, i);
            return;
        }

        int size = NearSize(i);
        ulong target = i.IsCallNearIndirect ? cpu.ReadOperand(i, 0, size) : i.NearBranchTarget;
        ulong returnIp = cpu.NextRip;
        BranchTo(cpu, target, size);
        cpu.Push(returnIp, size);
    }

    /// <summary>Far CALL (SDM: CALL): to a code segment, through a call gate, or to a task (see <see cref="X86Cpu.FarCall"/>).</summary>
    private static void CallFar(X86Cpu cpu, in Instruction i)
    {
        var (selector, offset, size) = FarPointer(cpu, i);
        cpu.FarCall(selector, offset, size);
    }

    /// <summary>
    /// The selector:offset of a direct (ptr16:16/32) or indirect (m16:16/32/64) far branch, and
    /// its operand size in bytes (the width of the offset).
    /// </summary>
    internal static (ushort Selector, ulong Offset, int Size) FarPointer(X86Cpu cpu, in Instruction i)
    {
        if (i.Op0Kind == OpKind.FarBranch16)
            return (i.FarBranchSelector, i.FarBranch16, 2);
        if (i.Op0Kind == OpKind.FarBranch32)
            return (i.FarBranchSelector, i.FarBranch32, 4);
        int size = i.MemorySize switch
        {
            MemorySize.SegPtr16 => 2,
            MemorySize.SegPtr64 => 8,
            _ => 4,
        };
        int seg = X86Cpu.MemorySegment(i);
        ulong ea = cpu.EffectiveAddress(i);
        ulong offset = cpu.ReadLogical(seg, ea, size);
        ushort selector = (ushort)cpu.ReadLogical(seg, (ea + (ulong)size) & X86Cpu.SizeMask(cpu.AddressSize(i)), 2);
        return (selector, offset, size);
    }

    private static void Ret(X86Cpu cpu, in Instruction i)
    {
        int size = RetSize(i);
        ulong target = cpu.PeekStack(0, size);
        BranchTo(cpu, target, size);
        ulong release = (ulong)size + (i.Op0Kind == OpKind.Immediate16 ? i.Immediate16 : 0u);
        cpu.StackPointer += release;
    }

    /// <summary>
    /// Far RET (SDM: RET): to the same privilege, or to an outer one (RPL &gt; CPL) with SS:ESP
    /// popped after the immediate is released, and data segments the new CPL may not use nulled.
    /// In IA-32e mode (RET, IA-32E-MODE-RETURN-*) the target may be a 64-bit code segment, whose
    /// RIP must be canonical instead of within the limit, and an outer return to 64-bit mode at
    /// CPL 0-2 may load a null SS (<see cref="X86Cpu.CheckLongModeReturnStack"/>).
    /// </summary>
    private static void Retf(X86Cpu cpu, in Instruction i)
    {
        int size = RetSize(i);
        ulong imm = i.Op0Kind == OpKind.Immediate16 ? i.Immediate16 : 0u;
        ulong offset = cpu.PeekStack(0, size);
        ushort selector = (ushort)cpu.PeekStack(size, size);
        if (!cpu.ProtectedMode || cpu.Virtual8086)
        {
            BranchTo(cpu, offset, size);
            cpu.CommitCodeSegment(selector, default, 0);
            cpu.StackPointer += (ulong)(2 * size) + imm;
            return;
        }

        FarReturn(cpu, in i, cpu.CheckReturnCodeSegment(selector));
    }

    /// <summary>
    /// Far RET in protected mode once the return CS has passed its checks
    /// (<see cref="X86Cpu.CheckReturnCodeSegment"/>): RPL = CPL returns at the same level, RPL &gt;
    /// CPL to an outer one. A hypervisor's emulator that skips the CS checks comes here too, where
    /// RPL &lt; CPL then returns to an inner level as if it were the same one (XSA-110).
    /// </summary>
    internal static void FarReturn(X86Cpu cpu, in Instruction i, SegmentDescriptor code)
    {
        int size = RetSize(i);
        ulong imm = i.Op0Kind == OpKind.Immediate16 ? i.Immediate16 : 0u;
        ulong offset = cpu.PeekStack(0, size);
        ushort selector = (ushort)cpu.PeekStack(size, size);
        int rpl = selector & 3;
        bool to64 = cpu.LongMode && code.Long;
        if (rpl <= cpu.Cpl)
        {
            CheckReturnOffset(code, offset, to64);
            cpu.StackPointer += (ulong)(2 * size) + imm;
            cpu.CommitCodeSegment(selector, code, rpl);
            cpu.NextRip = offset;
            return;
        }

        int depth = (2 * size) + (int)imm;
        ulong newSp = cpu.PeekStack(depth, size);
        ushort ssSelector = (ushort)cpu.PeekStack(depth + size, size);
        SegmentDescriptor? stack = cpu.LongMode
            ? cpu.CheckLongModeReturnStack(ssSelector, rpl, to64)
            : cpu.CheckReturnStackSegment(ssSelector, rpl);
        CheckReturnOffset(code, offset, to64);
        cpu.CommitCodeSegment(selector, code, rpl);
        if (stack is { } ss)
        {
            cpu.SetAccessed(ssSelector, ss);
            cpu.Segments[X86Cpu.SS].Load(ssSelector, ss);
        }
        else
        {
            cpu.Segments[X86Cpu.SS].LoadNull(ssSelector);
        }

        cpu.StackPointer = newSp + imm;
        cpu.NullifyInaccessibleDataSegments();
        cpu.NextRip = offset;
    }

    /// <summary>SDM: RET: the return offset must be canonical for a 64-bit target, else within the code segment limit (#GP(0)).</summary>
    private static void CheckReturnOffset(SegmentDescriptor code, ulong offset, bool to64)
    {
        if (to64 ? !X86Cpu.IsCanonical(offset) : offset > code.EffectiveLimit)
            throw CpuFault.GP(0);
    }

    /// <summary>LOOP/LOOPE/LOOPNE: decrement the counter (address size) without touching flags.</summary>
    private static void Loop(X86Cpu cpu, in Instruction i, int kind)
    {
        int counterSize = CounterSize(cpu, i);
        ulong count = (cpu.ReadGpr(X86Cpu.RCX, counterSize) - 1) & X86Cpu.SizeMask(counterSize);
        bool zf = cpu.Condition(4);
        bool take = count != 0 && (kind == 0 || (kind == 1 ? zf : !zf));
        if (take)
            BranchTo(cpu, i.NearBranchTarget, NearSize(i));
        cpu.WriteGpr(X86Cpu.RCX, counterSize, count);
    }

    private static void JumpIfCounterZero(X86Cpu cpu, in Instruction i, int counterSize)
    {
        if (cpu.ReadGpr(X86Cpu.RCX, counterSize) == 0)
            BranchTo(cpu, i.NearBranchTarget, NearSize(i));
    }

    /// <summary>
    /// The counter register of LOOP/LOOPcc is the address size's (SDM vol. 2, LOOP/LOOPcc: CX,
    /// ECX or RCX): in 64-bit mode RCX, or ECX with 67h, whose 32-bit write zero-extends into RCX
    /// (SDM vol. 1, 3.4.1.1).
    /// </summary>
    private static int CounterSize(X86Cpu cpu, in Instruction i) => i.Code switch
    {
        Code.Loop_rel8_16_CX or Code.Loop_rel8_32_CX or Code.Loope_rel8_16_CX or Code.Loope_rel8_32_CX
            or Code.Loopne_rel8_16_CX or Code.Loopne_rel8_32_CX => 2,
        Code.Loop_rel8_16_RCX or Code.Loop_rel8_64_RCX or Code.Loope_rel8_16_RCX or Code.Loope_rel8_64_RCX
            or Code.Loopne_rel8_16_RCX or Code.Loopne_rel8_64_RCX => 8,
        Code.Loop_rel8_16_ECX or Code.Loop_rel8_32_ECX or Code.Loop_rel8_64_ECX or Code.Loope_rel8_16_ECX or Code.Loope_rel8_32_ECX
            or Code.Loope_rel8_64_ECX or Code.Loopne_rel8_16_ECX or Code.Loopne_rel8_32_ECX or Code.Loopne_rel8_64_ECX => 4,
        _ => cpu.Bitness == 64 ? 8 : 4,
    };

    /// <summary>LEAVE: SP = BP, then pop BP (operand size).</summary>
    private static void Leave(X86Cpu cpu, in Instruction i)
    {
        int size = i.Code switch { Code.Leavew => 2, Code.Leaveq => 8, _ => 4 };
        ulong oldSp = cpu.StackPointer;
        cpu.StackPointer = cpu.ReadGpr(X86Cpu.RBP, cpu.StackAddressSize);
        try
        {
            cpu.WriteGpr(X86Cpu.RBP, size, cpu.Pop(size));
        }
        catch (CpuFault)
        {
            cpu.StackPointer = oldSp;
            throw;
        }
    }

    /// <summary>ENTER imm16, imm8 (SDM: ENTER), nesting level taken modulo 32.</summary>
    private static void Enter(X86Cpu cpu, in Instruction i)
    {
        int size = i.Code switch { Code.Enterw_imm16_imm8 => 2, Code.Enterq_imm16_imm8 => 8, _ => 4 };
        ulong allocate = i.Immediate16;
        int level = i.Immediate8_2nd & 31;
        ulong oldSp = cpu.StackPointer;
        try
        {
            cpu.Push(cpu.ReadGpr(X86Cpu.RBP, size), size);
            ulong frame = cpu.StackPointer;
            ulong bp = cpu.ReadGpr(X86Cpu.RBP, cpu.StackAddressSize);
            for (int n = 1; n < level; n++)
            {
                bp = (bp - (ulong)size) & X86Cpu.SizeMask(cpu.StackAddressSize);
                cpu.Push(cpu.ReadLogical(X86Cpu.SS, bp, size), size);
            }

            if (level > 0)
                cpu.Push(frame, size);
            cpu.StackPointer -= allocate;
            cpu.WriteGpr(X86Cpu.RBP, size, frame);
        }
        catch (CpuFault)
        {
            cpu.StackPointer = oldSp;
            throw;
        }
    }
}
