using Xtf.Core.Cpu.Decoding;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// Specialised near branches (SDM vol. 2: Jcc, JMP, CALL, RET) with the target resolved at decode
/// time; the target checks (CS limit, or canonical form in 64-bit mode) are those of
/// <see cref="ControlTransfer.BranchTo"/>.
/// </summary>
internal static class FastBranches
{
    public static void Jcc(X86Cpu c, ref readonly MicroOp op)
    {
        if (c.Condition(op.Condition))
            ControlTransfer.BranchTo(c, op.Immediate, op.Size);
    }

    public static void Jmp(X86Cpu c, ref readonly MicroOp op) => ControlTransfer.BranchTo(c, op.Immediate, op.Size);

    /// <summary>CALL rel: the return address is pushed after the target has passed its checks.</summary>
    public static void Call(X86Cpu c, ref readonly MicroOp op)
    {
        ulong returnIp = c.NextRip;
        ControlTransfer.BranchTo(c, op.Immediate, op.Size);
        c.Push(returnIp, op.Size);
    }

    /// <summary>RET (no immediate): the stack pointer moves only once the target has passed its checks.</summary>
    public static void Ret(X86Cpu c, ref readonly MicroOp op)
    {
        ulong target = c.PeekStack(0, op.Size);
        ControlTransfer.BranchTo(c, target, op.Size);
        c.StackPointer += op.Size;
    }
}
