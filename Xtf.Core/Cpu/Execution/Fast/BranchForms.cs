using Xtf.Core.Cpu.Decoding;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// Specialised near branches (SDM vol. 2: Jcc, JMP, CALL, RET) with the target resolved at decode
/// time and masked to the operand size; the checks on the target are those of
/// <see cref="ControlTransfer.BranchTo"/>.
/// </summary>
internal static class BranchForms<TSize>
    where TSize : struct, IOperandSize
{
    /// <summary>JE/JZ and JNE/JNZ test ZF alone, which every pending operation gives directly.</summary>
    public static ulong Je(X86Cpu c, ref readonly MicroOp op) => c.ZeroFlag ? Taken(c, in op) : op.NextRip;

    public static ulong Jne(X86Cpu c, ref readonly MicroOp op) => c.ZeroFlag ? op.NextRip : Taken(c, in op);

    public static ulong Jcc(X86Cpu c, ref readonly MicroOp op) => c.Condition(op.Condition) ? Taken(c, in op) : op.NextRip;

    public static ulong Jmp(X86Cpu c, ref readonly MicroOp op) => Taken(c, in op);

    /// <summary>CALL rel: the return address is pushed once the target has passed its checks.</summary>
    public static ulong Call(X86Cpu c, ref readonly MicroOp op)
    {
        ulong target = ControlTransfer.CheckedTarget(c, op.Immediate);
        c.Push(op.NextRip, TSize.Bytes);
        return target;
    }

    /// <summary>RET (no immediate): the stack pointer moves only once the target has passed its checks.</summary>
    public static ulong Ret(X86Cpu c, ref readonly MicroOp op)
    {
        ulong target = ControlTransfer.CheckedTarget(c, c.PeekStack(0, TSize.Bytes));
        c.StackPointer += (ulong)TSize.Bytes;
        return target;
    }

    private static ulong Taken(X86Cpu c, ref readonly MicroOp op) => ControlTransfer.CheckedTarget(c, op.Immediate);
}
