using Xtf.Core.Cpu.Decoding;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// Specialised MOVZX/MOVSX (SDM vol. 2) from a source of <typeparamref name="TSource"/> into a
/// destination of <typeparamref name="TDestination"/>, with the semantics of <see cref="DataMovement"/>.
/// </summary>
internal static class ExtendForms<TDestination, TSource>
    where TDestination : struct, IOperandSize
    where TSource : struct, IOperandSize
{
    public static ulong ZeroR(X86Cpu c, ref readonly MicroOp op) => Store(c, in op, c.Gpr(op.Src) & TSource.Mask);

    public static ulong ZeroM(X86Cpu c, ref readonly MicroOp op) => Store(c, in op, OperandMemory.Read<TSource>(c, in op));

    public static ulong SignR(X86Cpu c, ref readonly MicroOp op) => Store(c, in op, SignExtend(c.Gpr(op.Src)));

    public static ulong SignM(X86Cpu c, ref readonly MicroOp op) => Store(c, in op, SignExtend(OperandMemory.Read<TSource>(c, in op)));

    private static ulong SignExtend(ulong value)
    {
        int shift = 64 - (TSource.Bytes * 8);
        return (ulong)((long)(value << shift) >> shift);
    }

    private static ulong Store(X86Cpu c, ref readonly MicroOp op, ulong value)
    {
        ref ulong d = ref c.Gpr(op.Dst);
        d = TDestination.Merge(d, value);
        return op.NextRip;
    }
}

/// <summary>Specialised LEA, PUSH, POP and NOP at one size (SDM vol. 2), as <see cref="DataMovement"/> does them.</summary>
internal static class StackForms<TSize>
    where TSize : struct, IOperandSize
{
    /// <summary>LEA: the effective address, truncated or zero-extended to the operand size; no memory is touched.</summary>
    public static ulong Lea(X86Cpu c, ref readonly MicroOp op)
    {
        ref ulong d = ref c.Gpr(op.Dst);
        d = TSize.Merge(d, OperandMemory.EffectiveAddress(c, in op));
        return op.NextRip;
    }

    /// <summary>PUSH r: the value before the push (PUSH ESP pushes the old ESP).</summary>
    public static ulong PushR(X86Cpu c, ref readonly MicroOp op)
    {
        c.Push(c.Gpr(op.Src) & TSize.Mask, TSize.Bytes);
        return op.NextRip;
    }

    public static ulong PushI(X86Cpu c, ref readonly MicroOp op)
    {
        c.Push(op.Immediate, TSize.Bytes);
        return op.NextRip;
    }

    /// <summary>POP r: the stack pointer is incremented before the register is written (POP ESP loads the popped value).</summary>
    public static ulong PopR(X86Cpu c, ref readonly MicroOp op)
    {
        ulong v = c.PeekStack(0, TSize.Bytes);
        c.StackPointer += (ulong)TSize.Bytes;
        ref ulong d = ref c.Gpr(op.Dst);
        d = TSize.Merge(d, v);
        return op.NextRip;
    }

    public static ulong Nop(X86Cpu c, ref readonly MicroOp op) => op.NextRip;
}
