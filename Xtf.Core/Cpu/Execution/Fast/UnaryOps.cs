namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// A one-operand read-modify-write operation as a type: INC, DEC, NOT, NEG (SDM vol. 2), and
/// SHL, SHR, SAR by a constant count, with flags as the general handlers record them.
/// The count of a shift is in <see cref="Decoding.MicroOp.Immediate"/>, already masked and non-zero.
/// </summary>
internal interface IUnaryOp
{
    static abstract ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize;
}

/// <summary>INC: CF is left as it was (SDM: INC).</summary>
internal readonly struct IncOp : IUnaryOp
{
    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize
    {
        ulong r = a + 1;
        c.SetIncDecFlags(decrement: false, a, r, TSize.Bytes);
        return r;
    }
}

/// <summary>DEC: CF is left as it was (SDM: DEC).</summary>
internal readonly struct DecOp : IUnaryOp
{
    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize
    {
        ulong r = a - 1;
        c.SetIncDecFlags(decrement: true, a, r, TSize.Bytes);
        return r;
    }
}

/// <summary>NOT: no flag changes (SDM: NOT).</summary>
internal readonly struct NotOp : IUnaryOp
{
    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize => ~a;
}

/// <summary>NEG: 0 - operand; CF is set unless the operand was 0 (SDM: NEG), as SUB from 0.</summary>
internal readonly struct NegOp : IUnaryOp
{
    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize
    {
        ulong r = 0 - a;
        c.SetArithmeticFlags(subtract: true, 0, a, 0, r, TSize.Bytes);
        return r;
    }
}

/// <summary>SHL/SAL by a non-zero masked count; AF is left as it was (see <see cref="Shifts"/>).</summary>
internal readonly struct ShlOp : IUnaryOp
{
    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize =>
        ShiftFlags.Record<TSize>(c, Shifts.ShiftLeft(a, (int)count, TSize.Bytes, out uint carryOverflow), carryOverflow);
}

internal readonly struct ShrOp : IUnaryOp
{
    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize =>
        ShiftFlags.Record<TSize>(c, Shifts.ShiftRight(a, (int)count, TSize.Bytes, out uint carryOverflow), carryOverflow);
}

internal readonly struct SarOp : IUnaryOp
{
    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong count)
        where TSize : struct, IOperandSize =>
        ShiftFlags.Record<TSize>(c, Shifts.ShiftArithmeticRight(a, (int)count, TSize.Bytes, out uint carryOverflow), carryOverflow);
}

/// <summary>The flags of a shift: SF, ZF, PF from the result, CF and OF as the shift gives them, AF unchanged.</summary>
internal static class ShiftFlags
{
    public static ulong Record<TSize>(X86Cpu c, ulong result, uint carryOverflow)
        where TSize : struct, IOperandSize
    {
        c.SetResultFlags(result, TSize.Bytes, carryOverflow | c.AuxiliaryFlag);
        return result;
    }
}
