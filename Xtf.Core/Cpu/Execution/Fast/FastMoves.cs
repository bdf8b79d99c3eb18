using Xtf.Core.Cpu.Decoding;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// Specialised data movement (SDM vol. 2: MOV, MOVZX, MOVSX, LEA, PUSH, POP, NOP) between general
/// registers, immediates and memory, with the semantics of <see cref="DataMovement"/>.
/// </summary>
internal static class FastMoves
{
    public static void MovRR(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, op.Size, c.ReadGpr(op.Src, op.Size));

    public static void MovRI(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, op.Size, op.Immediate);

    public static void MovRM(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, op.Size, FastMemory.Read(c, in op));

    public static void MovMR(X86Cpu c, ref readonly MicroOp op) => FastMemory.Write(c, in op, c.ReadGpr(op.Src, op.Size));

    public static void MovMI(X86Cpu c, ref readonly MicroOp op) => FastMemory.Write(c, in op, op.Immediate);

    /// <summary>
    /// MOVZX r, r/m: <see cref="MicroOp.Size"/> is the source size, <see cref="MicroOp.Immediate"/>
    /// the destination size (a 32-bit destination clears bits 63:32, SDM vol. 1, 3.4.1.1).
    /// </summary>
    public static void MovzxRR(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, (int)op.Immediate, c.ReadGpr(op.Src, op.Size));

    public static void MovzxRM(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, (int)op.Immediate, FastMemory.Read(c, in op));

    public static void MovsxRR(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, (int)op.Immediate, SignExtend(c.ReadGpr(op.Src, op.Size), op.Size));

    public static void MovsxRM(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, (int)op.Immediate, SignExtend(FastMemory.Read(c, in op), op.Size));

    /// <summary>LEA: the effective address, truncated or zero-extended to the operand size; no memory is touched.</summary>
    public static void Lea(X86Cpu c, ref readonly MicroOp op) => c.WriteGpr(op.Dst, op.Size, FastMemory.EffectiveAddress(c, in op));

    /// <summary>PUSH r: the value before the push (PUSH ESP pushes the old ESP).</summary>
    public static void PushR(X86Cpu c, ref readonly MicroOp op) => c.Push(c.ReadGpr(op.Src, op.Size), op.Size);

    public static void PushI(X86Cpu c, ref readonly MicroOp op) => c.Push(op.Immediate, op.Size);

    /// <summary>POP r: the stack pointer is incremented before the register is written (POP ESP loads the popped value).</summary>
    public static void PopR(X86Cpu c, ref readonly MicroOp op)
    {
        ulong v = c.PeekStack(0, op.Size);
        c.StackPointer += op.Size;
        c.WriteGpr(op.Dst, op.Size, v);
    }

    public static void Nop(X86Cpu c, ref readonly MicroOp op)
    {
    }

    private static ulong SignExtend(ulong value, int size)
    {
        int shift = 64 - (size * 8);
        return (ulong)((long)(value << shift) >> shift);
    }
}
