namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>
/// Exact IEEE 754 arithmetic on finite operands, rounded once to the destination format as the
/// SDM prescribes (vol. 1, 4.8.4 rounding; 4.9.1.4 overflow, 4.9.1.5 underflow, 4.9.1.6
/// inexact; 10.2.3.3 flush-to-zero). Each operation forms the infinitely precise result as an
/// integer significand times a power of two (with a sticky bit where the exact value has more
/// bits than 128), and <see cref="Round"/> turns it into a result and its post-computation flags
/// (OE, UE, PE). Operands reaching here are finite and not NaN; the caller has made the
/// pre-computation checks (NaN, invalid, divide-by-zero, denormal). No host floating point is
/// used, so every MXCSR rounding mode is exact for both formats.
/// </summary>
internal static class SoftFloat
{
    /// <summary>A finite operand as M * 2^E (M = 0 for a zero; a denormal has no integer bit).</summary>
    public static (ulong M, int E) Unpack(FloatFormat f, ulong x)
    {
        int exponent = f.Exponent(x);
        ulong fraction = x & f.FractionMask;
        return exponent == 0
            ? (fraction, f.MinExponent - f.FractionBits)
            : (fraction | (1ul << f.FractionBits), exponent - f.Bias - f.FractionBits);
    }

    /// <summary>a + b for finite a, b (subtract by flipping b's sign first).</summary>
    public static (ulong Bits, uint Flags) Add(FloatFormat f, ulong a, ulong b, uint mxcsr)
    {
        bool sa = f.IsNegative(a), sb = f.IsNegative(b);
        var rounding = Mxcsr.Rounding(mxcsr);
        if (f.IsZero(a) && f.IsZero(b))
        {
            // Vol. 1, 4.8.3.3 / IEEE 754 6.3: (+0) + (-0) is +0, except -0 when rounding down.
            return (sa == sb ? f.Zero(sa) : f.Zero(rounding == RoundingMode.Down), 0);
        }

        var (ma, ea) = Unpack(f, a);
        var (mb, eb) = Unpack(f, b);
        if (ma == 0)
            return Round(f, sb, mb, eb, mxcsr);
        if (mb == 0)
            return Round(f, sa, ma, ea, mxcsr);
        if (ea < eb)
        {
            (ma, ea, sa, mb, eb, sb) = (mb, eb, sb, ma, ea, sa);
        }

        // The larger-exponent operand moves 64 bits up; the other is aligned to it, and bits
        // shifted out are jammed into bit 0 (sticky): with 64 guard bits the jam never reaches
        // the rounding position, and cancellation only happens when nothing was shifted out.
        int diff = ea - eb;
        UInt128 wideA = (UInt128)ma << 64, wideB = (UInt128)mb << 64;
        if (diff > 0)
        {
            bool lost = diff >= 128 || (wideB & ((UInt128.One << diff) - 1)) != 0;
            wideB = (diff >= 128 ? UInt128.Zero : wideB >> diff) | (lost ? UInt128.One : UInt128.Zero);
        }

        UInt128 sum;
        bool negative;
        if (sa == sb)
            (sum, negative) = (wideA + wideB, sa);
        else if (wideA >= wideB)
            (sum, negative) = (wideA - wideB, sa);
        else
            (sum, negative) = (wideB - wideA, sb);
        if (sum == 0)
            return (f.Zero(rounding == RoundingMode.Down), 0); // exact cancellation: +0 (-0 rounding down)
        return Round(f, negative, sum, ea - 64, mxcsr);
    }

    /// <summary>a * b for finite a, b: the 2p-bit product is exact in 128 bits.</summary>
    public static (ulong Bits, uint Flags) Multiply(FloatFormat f, ulong a, ulong b, uint mxcsr)
    {
        bool negative = f.IsNegative(a) != f.IsNegative(b);
        var (ma, ea) = Unpack(f, a);
        var (mb, eb) = Unpack(f, b);
        if (ma == 0 || mb == 0)
            return (f.Zero(negative), 0);
        return Round(f, negative, (UInt128)ma * mb, ea + eb, mxcsr);
    }

    /// <summary>a / b for finite a and finite non-zero b: a 64-bit-plus quotient, the remainder as sticky.</summary>
    public static (ulong Bits, uint Flags) Divide(FloatFormat f, ulong a, ulong b, uint mxcsr)
    {
        bool negative = f.IsNegative(a) != f.IsNegative(b);
        var (ma, ea) = Unpack(f, a);
        var (mb, eb) = Unpack(f, b);
        if (ma == 0)
            return (f.Zero(negative), 0);
        int za = (int)ulong.LeadingZeroCount(ma);
        int zb = (int)ulong.LeadingZeroCount(mb);
        ma <<= za;
        mb <<= zb;

        // Both significands now have bit 63 set: (ma * 2^64) / mb lies in (2^63, 2^65).
        UInt128 dividend = (UInt128)ma << 64;
        UInt128 quotient = dividend / mb;
        bool inexact = dividend - (quotient * mb) != 0;
        return Round(f, negative, quotient | (inexact ? UInt128.One : UInt128.Zero), ea - za - 64 - (eb - zb), mxcsr);
    }

    /// <summary>sqrt(a) for finite a &gt; 0: an integer square root of at least 63 bits, the remainder as sticky.</summary>
    public static (ulong Bits, uint Flags) SquareRoot(FloatFormat f, ulong a, uint mxcsr)
    {
        var (m, e) = Unpack(f, a);

        // Normalise so bit 62 or 63 is the top one and the exponent is even.
        int shift = (int)ulong.LeadingZeroCount(m) - 1;
        if (((e - shift) & 1) != 0)
            shift++;
        m <<= shift;
        e -= shift;
        UInt128 radicand = (UInt128)m << 64;
        UInt128 root = 0, remainder = radicand, bit = UInt128.One << 126;
        while (bit > remainder)
            bit >>= 2;
        while (bit != 0)
        {
            if (remainder >= root + bit)
            {
                remainder -= root + bit;
                root = (root >> 1) + bit;
            }
            else
            {
                root >>= 1;
            }

            bit >>= 2;
        }

        return Round(f, false, root | (remainder != 0 ? UInt128.One : UInt128.Zero), (e - 64) / 2, mxcsr);
    }

    /// <summary>
    /// Rounds <paramref name="m"/> * 2^<paramref name="e"/> (m &gt; 0; bit 0 may be a sticky jam
    /// below the rounding position) to the format under MXCSR.RC and FZ/UM/OM:
    /// <list type="bullet">
    /// <item>Overflow (vol. 1, 4.9.1.4, table 4-10): the result rounded with unbounded exponent
    /// exceeds the largest finite value. OE and PE; masked, infinity or the largest finite value
    /// by RC and sign; unmasked, PE only if that rounding was inexact (no result is stored).</item>
    /// <item>Underflow (vol. 1, 4.9.1.5, 11.5.2.5): the result rounded with unbounded exponent is
    /// tiny (x86 detects tininess after rounding). Masked, the denormal is delivered and UE is set
    /// only together with PE, when that denormal is inexact; with FZ set (and UM masked) the result
    /// is zero of the true sign with UE and PE (10.2.3.3). Unmasked, UE, and PE if inexact.</item>
    /// <item>Otherwise PE when the rounded result differs from the exact one (4.9.1.6).</item>
    /// </list>
    /// </summary>
    public static (ulong Bits, uint Flags) Round(FloatFormat f, bool negative, UInt128 m, int e, uint mxcsr)
    {
        var rounding = Mxcsr.Rounding(mxcsr);
        int precision = f.FractionBits + 1;
        int length = BitLength(m);
        var (q, inexact) = RoundShift(m, length - precision, negative, rounding);
        int top = e + length - 1; // exponent of the exact value's leading bit
        if (q >> precision != 0)
        {
            q >>= 1; // rounded up to 2^precision: one more binade, the low bit is zero
            top++;
        }

        ulong sign = f.Zero(negative);
        if (top > f.Bias)
        {
            if (!Mxcsr.Masked(mxcsr, Mxcsr.OE))
                return (0, Mxcsr.OE | (inexact ? Mxcsr.PE : 0));
            bool toInfinity = rounding switch
            {
                RoundingMode.Nearest => true,
                RoundingMode.Down => negative,
                RoundingMode.Up => !negative,
                _ => false,
            };
            return (sign | (toInfinity ? f.PositiveInfinity : f.MaxFinite), Mxcsr.OE | Mxcsr.PE);
        }

        if (top < f.MinExponent)
        {
            bool underflowMasked = Mxcsr.Masked(mxcsr, Mxcsr.UE);
            if (!underflowMasked)
                return (0, Mxcsr.UE | (inexact ? Mxcsr.PE : 0));
            if ((mxcsr & Mxcsr.FZ) != 0)
                return (sign, Mxcsr.UE | Mxcsr.PE);

            // Denormal: round to the fixed quantum 2^(MinExponent - FractionBits). A carry into
            // bit FractionBits is the smallest normal number, which the encoding gives directly.
            var (d, denormalInexact) = RoundShift(m, f.MinExponent - f.FractionBits - e, negative, rounding);
            return (sign | (ulong)d, denormalInexact ? Mxcsr.UE | Mxcsr.PE : 0);
        }

        ulong biased = (ulong)(top + f.Bias) << f.FractionBits;
        return (sign | biased | ((ulong)q & f.FractionMask), inexact ? Mxcsr.PE : 0);
    }

    /// <summary>
    /// m / 2^shift rounded to an integer by <paramref name="rounding"/> (vol. 1, table 4-8),
    /// and whether any non-zero bit was discarded (bit 0 of m may be a sticky jam).
    /// </summary>
    private static (UInt128 Q, bool Inexact) RoundShift(UInt128 m, int shift, bool negative, RoundingMode rounding)
    {
        if (shift <= 0)
            return (m << -shift, false);
        UInt128 q;
        int halfComparison; // the discarded part against one half of the last place
        if (shift > BitLength(m))
        {
            q = 0;
            halfComparison = -1;
        }
        else
        {
            q = shift == 128 ? UInt128.Zero : m >> shift;
            UInt128 rest = shift == 128 ? m : m - (q << shift);
            if (rest == 0)
                return (q, false);
            halfComparison = rest.CompareTo(UInt128.One << (shift - 1));
        }

        bool up = rounding switch
        {
            RoundingMode.Nearest => halfComparison > 0 || (halfComparison == 0 && (q & 1) != 0),
            RoundingMode.Down => negative,
            RoundingMode.Up => !negative,
            _ => false,
        };
        return (up ? q + 1 : q, true);
    }

    private static int BitLength(UInt128 m) => 128 - (int)UInt128.LeadingZeroCount(m);
}
