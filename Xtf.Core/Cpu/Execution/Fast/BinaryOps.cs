namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// A two-operand integer operation as a type (SDM vol. 2: ADD, ADC, SUB, SBB, CMP, AND, OR, XOR,
/// TEST, MOV): its result and status flags, recorded as the general handlers record them
/// (<see cref="Arithmetic"/>, <see cref="Logic"/>, <see cref="DataMovement"/>).
/// </summary>
internal interface IBinaryOp
{
    /// <summary>False for CMP and TEST, which only set flags.</summary>
    static abstract bool Writes { get; }

    /// <summary>False for MOV, which does not read its destination.</summary>
    static abstract bool ReadsDestination { get; }

    static abstract ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize;
}

internal readonly struct AddOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize
    {
        ulong r = a + b;
        c.SetArithmeticFlags(subtract: false, a, b, 0, r, TSize.Bytes);
        return r;
    }
}

/// <summary>ADC: CF as it was before the instruction is added in.</summary>
internal readonly struct AdcOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize
    {
        ulong carry = c.CarryFlag != 0 ? 1ul : 0;
        ulong r = a + b + carry;
        c.SetArithmeticFlags(subtract: false, a, b, carry, r, TSize.Bytes);
        return r;
    }
}

internal readonly struct SubOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize
    {
        ulong r = a - b;
        c.SetArithmeticFlags(subtract: true, a, b, 0, r, TSize.Bytes);
        return r;
    }
}

/// <summary>SBB: CF as it was before the instruction is subtracted too.</summary>
internal readonly struct SbbOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize
    {
        ulong borrow = c.CarryFlag != 0 ? 1ul : 0;
        ulong r = a - b - borrow;
        c.SetArithmeticFlags(subtract: true, a, b, borrow, r, TSize.Bytes);
        return r;
    }
}

/// <summary>CMP: SUB without the store.</summary>
internal readonly struct CmpOp : IBinaryOp
{
    public static bool Writes => false;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize => SubOp.Apply<TSize>(c, a, b);
}

internal readonly struct AndOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize
    {
        ulong r = a & b;
        c.SetLogicFlags(r, TSize.Bytes);
        return r;
    }
}

internal readonly struct OrOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize
    {
        ulong r = a | b;
        c.SetLogicFlags(r, TSize.Bytes);
        return r;
    }
}

internal readonly struct XorOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize
    {
        ulong r = a ^ b;
        c.SetLogicFlags(r, TSize.Bytes);
        return r;
    }
}

/// <summary>TEST: AND without the store.</summary>
internal readonly struct TestOp : IBinaryOp
{
    public static bool Writes => false;

    public static bool ReadsDestination => true;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize => AndOp.Apply<TSize>(c, a, b);
}

/// <summary>MOV: the source, no flags.</summary>
internal readonly struct MovOp : IBinaryOp
{
    public static bool Writes => true;

    public static bool ReadsDestination => false;

    public static ulong Apply<TSize>(X86Cpu c, ulong a, ulong b)
        where TSize : struct, IOperandSize => b;
}
