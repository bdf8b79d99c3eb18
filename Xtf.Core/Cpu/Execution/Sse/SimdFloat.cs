namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>The SSE floating-point operations on one lane.</summary>
internal enum SimdOperation
{
    Add,
    Subtract,
    Multiply,
    Divide,
    SquareRoot,
    Minimum,
    Maximum,
}

/// <summary>How two operands compare (SDM vol. 1, 4.8.3.6, table 4-6 comparison results).</summary>
internal enum Relation
{
    Less,
    Equal,
    Greater,
    Unordered,
}

/// <summary>
/// One lane of an SSE floating-point instruction: its result and every exception flag it raised,
/// pre-computation (IE, DE, ZE) and post-computation (OE, UE, PE) alike. The instruction decides
/// from all lanes together whether the flags are unmasked (SDM vol. 1, 11.5.3).
/// </summary>
internal readonly record struct LaneResult(ulong Value, uint Flags);

/// <summary>
/// The lane semantics of the SSE arithmetic, minimum/maximum and compare instructions, with the
/// SDM's order of checks (vol. 1, 4.9.2 and 11.5.2, table 4-12 precedence): an SNaN operand is
/// IE; a NaN operand is propagated (vol. 1, 4.8.3.5, table 4-7, SSE column: the first source
/// operand if it is a NaN, an SNaN quieted); then the other invalid operations (IE, the QNaN
/// indefinite) and divide-by-zero (ZE); then a denormal source (DE, masked: the operation goes on
/// and may raise post-computation exceptions). With MXCSR.DAZ a denormal source is a zero of the
/// same sign and raises no DE (10.2.3.4).
/// </summary>
internal static class SimdFloat
{
    /// <summary>
    /// <paramref name="op"/> on the first source (the destination) <paramref name="a"/> and the
    /// second source <paramref name="b"/>; SQRT reads <paramref name="b"/> only.
    /// </summary>
    public static LaneResult Compute(SimdOperation op, FloatFormat f, ulong a, ulong b, uint mxcsr)
    {
        a &= f.Mask;
        b &= f.Mask;
        if (op is SimdOperation.Minimum or SimdOperation.Maximum)
            return MinMax(op == SimdOperation.Maximum, f, a, b, mxcsr);
        bool unary = op == SimdOperation.SquareRoot;
        bool aNaN = !unary && f.IsNaN(a), bNaN = f.IsNaN(b);
        if (aNaN || bNaN)
        {
            bool signaling = (aNaN && f.IsSignalingNaN(a)) || (bNaN && f.IsSignalingNaN(b));
            return new(f.Quiet(aNaN ? a : b), signaling ? Mxcsr.IE : 0);
        }

        uint denormal = 0;
        if (!unary)
            a = Source(f, a, mxcsr, ref denormal);
        b = Source(f, b, mxcsr, ref denormal);
        var invalid = new LaneResult(f.Indefinite, Mxcsr.IE);
        bool aInf = f.IsInfinity(a), bInf = f.IsInfinity(b), aZero = f.IsZero(a), bZero = f.IsZero(b);
        bool negative = f.IsNegative(a) != f.IsNegative(b);
        (ulong Bits, uint Flags) r;
        switch (op)
        {
            case SimdOperation.Add or SimdOperation.Subtract:
                if (op == SimdOperation.Subtract)
                    b ^= f.SignBit;
                if (aInf && bInf && f.IsNegative(a) != f.IsNegative(b))
                    return invalid; // vol. 1, 4.9.1.2: (+inf) + (-inf)
                r = aInf ? (a, 0) : bInf ? (b, 0) : SoftFloat.Add(f, a, b, mxcsr);
                break;
            case SimdOperation.Multiply:
                if ((aInf && bZero) || (aZero && bInf))
                    return invalid; // 0 * inf
                r = aInf || bInf ? (f.Infinity(negative), 0) : SoftFloat.Multiply(f, a, b, mxcsr);
                break;
            case SimdOperation.Divide:
                if ((aZero && bZero) || (aInf && bInf))
                    return invalid; // 0 / 0, inf / inf
                if (bZero && !aInf)
                    return new(f.Infinity(negative), Mxcsr.ZE); // vol. 1, 11.5.2.3: finite non-zero / 0; ranks above DE (table 4-12)
                r = aInf ? (f.Infinity(negative), 0) : bInf ? (f.Zero(negative), 0) : SoftFloat.Divide(f, a, b, mxcsr);
                break;
            default: // square root
                if (f.IsNegative(b) && !bZero)
                    return invalid; // vol. 1, 4.9.1.2: square root of a negative operand; sqrt(-0) = -0
                r = bZero || bInf ? (b, 0) : SoftFloat.SquareRoot(f, b, mxcsr);
                break;
        }

        return new(r.Bits, denormal | r.Flags);
    }

    /// <summary>
    /// MINPS/MINSS/MINPD/MINSD and MAX* (SDM vol. 2, the pseudo-code of MIN and MAX): a NaN in
    /// either source, SNaN or QNaN, is IE and returns the second source unchanged; two zeros of
    /// any sign return the second source; otherwise the first source if it is strictly less
    /// (greater), else the second.
    /// </summary>
    private static LaneResult MinMax(bool maximum, FloatFormat f, ulong a, ulong b, uint mxcsr)
    {
        if (f.IsNaN(a) || f.IsNaN(b))
            return new(b, Mxcsr.IE);
        uint denormal = 0;
        a = Source(f, a, mxcsr, ref denormal);
        b = Source(f, b, mxcsr, ref denormal);
        var relation = Order(f, a, b);
        bool first = maximum ? relation == Relation.Greater : relation == Relation.Less;
        return new(first ? a : b, denormal);
    }

    /// <summary>
    /// CMPPS/CMPSS/CMPPD/CMPSD with predicate imm8[2:0] (SDM vol. 2, CMPPS, table 3-1 ... the
    /// legacy SSE predicates): EQ 0, LT 1, LE 2, UNORD 3, NEQ 4, NLT 5, NLE 6, ORD 7. The result is
    /// all ones when the predicate holds, else zero. LT, LE, NLT and NLE signal: a QNaN operand is
    /// IE for them; an SNaN is IE for every predicate. DE for a denormal source when neither is a NaN.
    /// </summary>
    public static LaneResult ComparePredicate(FloatFormat f, ulong a, ulong b, int predicate, uint mxcsr)
    {
        predicate &= 7;
        bool signaling = predicate is 1 or 2 or 5 or 6;
        var (relation, flags) = Compare(f, a, b, signaling, mxcsr);
        bool holds = predicate switch
        {
            0 => relation == Relation.Equal,
            1 => relation == Relation.Less,
            2 => relation is Relation.Less or Relation.Equal,
            3 => relation == Relation.Unordered,
            4 => relation != Relation.Equal,
            5 => relation != Relation.Less,
            6 => relation is not (Relation.Less or Relation.Equal),
            _ => relation != Relation.Unordered,
        };
        return new(holds ? f.Mask : 0, flags);
    }

    /// <summary>
    /// Compares two sources with the exceptions of COMIS*/CMP* (SDM vol. 2, COMISS, UCOMISS):
    /// an SNaN is always IE; a QNaN is IE only for a signaling compare (COMIS*, CMP LT/LE/NLT/NLE);
    /// without NaNs a denormal source is DE (DAZ clear).
    /// </summary>
    public static (Relation Relation, uint Flags) Compare(FloatFormat f, ulong a, ulong b, bool signaling, uint mxcsr)
    {
        a &= f.Mask;
        b &= f.Mask;
        if (f.IsNaN(a) || f.IsNaN(b))
        {
            bool invalid = signaling || f.IsSignalingNaN(a) || f.IsSignalingNaN(b);
            return (Relation.Unordered, invalid ? Mxcsr.IE : 0);
        }

        uint denormal = 0;
        a = Source(f, a, mxcsr, ref denormal);
        b = Source(f, b, mxcsr, ref denormal);
        return (Order(f, a, b), denormal);
    }

    /// <summary>A source operand after DAZ (a denormal becomes a zero of its sign), noting DE for a denormal otherwise.</summary>
    private static ulong Source(FloatFormat f, ulong x, uint mxcsr, ref uint flags)
    {
        if (!f.IsDenormal(x))
            return x;
        if ((mxcsr & Mxcsr.DAZ) != 0)
            return x & f.SignBit;
        flags |= Mxcsr.DE;
        return x;
    }

    /// <summary>The order of two non-NaN values: sign-magnitude bits as a signed key, both zeros equal.</summary>
    private static Relation Order(FloatFormat f, ulong a, ulong b)
    {
        long ka = Key(f, a), kb = Key(f, b);
        return ka < kb ? Relation.Less : ka > kb ? Relation.Greater : Relation.Equal;
    }

    private static long Key(FloatFormat f, ulong x)
    {
        long magnitude = (long)(x & ~f.SignBit & f.Mask);
        return f.IsNegative(x) ? -magnitude : magnitude;
    }
}
