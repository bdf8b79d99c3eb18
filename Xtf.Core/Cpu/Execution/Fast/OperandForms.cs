using System.Runtime.CompilerServices;
using Xtf.Core.Cpu.Decoding;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// The operand forms of a two-operand operation at one size. Suffixes name the operands:
/// R register, I immediate, M memory. Each returns the RIP of the next instruction.
/// </summary>
internal static class BinaryForms<TSize, TOp>
    where TSize : struct, IOperandSize
    where TOp : struct, IBinaryOp
{
    public static ulong RR(X86Cpu c, ref readonly MicroOp op)
    {
        RegisterRegister(c, op.Dst, op.Src);
        return op.NextRip;
    }

    public static ulong RI(X86Cpu c, ref readonly MicroOp op)
    {
        RegisterImmediate(c, op.Dst, op.Immediate);
        return op.NextRip;
    }

    public static ulong RM(X86Cpu c, ref readonly MicroOp op)
    {
        ToRegister(c, op.Dst, OperandMemory.Read<TSize>(c, in op));
        return op.NextRip;
    }

    /// <summary>The register-register form with its operands as arguments (a compiled block passes constants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RegisterRegister(X86Cpu c, int dst, int src) => ToRegister(c, dst, c.Gpr(src) & TSize.Mask);

    /// <summary>The register-immediate form with its operands as arguments.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void RegisterImmediate(X86Cpu c, int dst, ulong immediate) => ToRegister(c, dst, immediate);

    public static ulong MR(X86Cpu c, ref readonly MicroOp op) => ToMemory(c, in op, c.Gpr(op.Src) & TSize.Mask);

    public static ulong MI(X86Cpu c, ref readonly MicroOp op) => ToMemory(c, in op, op.Immediate);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ToRegister(X86Cpu c, int dst, ulong b)
    {
        ref ulong d = ref c.Gpr(dst);
        ulong r = TOp.Apply<TSize>(c, d & TSize.Mask, b);
        if (TOp.Writes)
            d = TSize.Merge(d, r);
    }

    /// <summary>
    /// A memory destination: MOV only writes it; CMP and TEST only read it; the others check the
    /// address for writing before they read, as the general handlers do.
    /// </summary>
    private static ulong ToMemory(X86Cpu c, ref readonly MicroOp op, ulong b)
    {
        if (!TOp.ReadsDestination)
        {
            OperandMemory.Write<TSize>(c, in op, TOp.Apply<TSize>(c, 0, b));
        }
        else if (!TOp.Writes)
        {
            _ = TOp.Apply<TSize>(c, OperandMemory.Read<TSize>(c, in op), b);
        }
        else
        {
            ulong la = OperandMemory.WritableLinear<TSize>(c, in op);
            bool user = c.UserAccess;
            ulong r = TOp.Apply<TSize>(c, c.ReadLinear(la, TSize.Bytes, user), b);
            c.WriteLinear(la, TSize.Bytes, r, user);
        }

        return op.NextRip;
    }
}

/// <summary>The register and memory forms of a one-operand read-modify-write operation at one size.</summary>
internal static class UnaryForms<TSize, TOp>
    where TSize : struct, IOperandSize
    where TOp : struct, IUnaryOp
{
    public static ulong R(X86Cpu c, ref readonly MicroOp op)
    {
        Register(c, op.Dst, op.Immediate);
        return op.NextRip;
    }

    /// <summary>The register form with its operands as arguments (a compiled block passes constants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Register(X86Cpu c, int dst, ulong count)
    {
        ref ulong d = ref c.Gpr(dst);
        d = TSize.Merge(d, TOp.Apply<TSize>(c, d & TSize.Mask, count));
    }

    public static ulong M(X86Cpu c, ref readonly MicroOp op)
    {
        ulong la = OperandMemory.WritableLinear<TSize>(c, in op);
        bool user = c.UserAccess;
        ulong r = TOp.Apply<TSize>(c, c.ReadLinear(la, TSize.Bytes, user), op.Immediate);
        c.WriteLinear(la, TSize.Bytes, r, user);
        return op.NextRip;
    }
}

/// <summary>Memory operands of the specialised forms: the effective address from the resolved base, index and displacement.</summary>
internal static class OperandMemory
{
    /// <summary>
    /// Offset of the memory operand (SDM vol. 2, 2.1.5): base + index * scale + displacement,
    /// truncated to the address size. The low bits of a sum depend only on the low bits of its
    /// terms, so full registers can be added and the result masked once.
    /// </summary>
    public static ulong EffectiveAddress(X86Cpu c, ref readonly MicroOp op)
    {
        ulong ea = op.Displacement;
        if (op.Base != MicroOp.NoRegister)
            ea += c.Gpr(op.Base);
        if (op.Index != MicroOp.NoRegister)
            ea += c.Gpr(op.Index) << op.Scale;
        return ea & op.AddressMask;
    }

    public static ulong Read<TSize>(X86Cpu c, ref readonly MicroOp op)
        where TSize : struct, IOperandSize =>
        c.ReadLinear(c.LinearAddress(op.Segment, EffectiveAddress(c, in op), TSize.Bytes, AccessKind.Read), TSize.Bytes, c.UserAccess);

    public static void Write<TSize>(X86Cpu c, ref readonly MicroOp op, ulong value)
        where TSize : struct, IOperandSize =>
        c.WriteLinear(c.LinearAddress(op.Segment, EffectiveAddress(c, in op), TSize.Bytes, AccessKind.Write), TSize.Bytes, value, c.UserAccess);

    /// <summary>The linear address of a read-modify-write destination, its pages checked for writing first (<see cref="X86Cpu.CheckWritable"/>).</summary>
    public static ulong WritableLinear<TSize>(X86Cpu c, ref readonly MicroOp op)
        where TSize : struct, IOperandSize
    {
        ulong la = c.LinearAddress(op.Segment, EffectiveAddress(c, in op), TSize.Bytes, AccessKind.Write);
        c.CheckWritable(la, TSize.Bytes);
        return la;
    }
}
