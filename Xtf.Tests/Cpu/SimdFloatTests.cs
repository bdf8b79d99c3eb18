using NUnit.Framework;
using Xtf.Core.Cpu.Execution.Sse;
using static Xtf.Core.Cpu.Execution.Sse.Mxcsr;

namespace Xtf.Tests.Cpu;

/// <summary>
/// The lane semantics of SSE floating point (SDM vol. 1, 4.8-4.9 and 11.5; vol. 2, the
/// instruction pages), checked on single lanes with MXCSR values chosen per case. The expected
/// bit patterns follow from IEEE 754 as the SDM adopts it (4.8.4 rounding, tables 4-7, 4-8, 4-10),
/// worked out by hand below, and from the host's own IEEE arithmetic in round-to-nearest.
/// </summary>
[TestFixture]
public sealed class SimdFloatTests
{
    /// <summary>All exceptions masked, round to nearest: the power-up MXCSR 1F80H (vol. 3, table 9-1).</summary>
    private const uint Masked = 0x1F80;

    private static readonly FloatFormat S = FloatFormat.Single, D = FloatFormat.Double;

    private static uint Rc(RoundingMode rc) => Masked | ((uint)rc << 13);

    private static uint Rc(int rc) => Masked | ((uint)rc << 13);

    private static ulong F(float x) => BitConverter.SingleToUInt32Bits(x);

    private static ulong Dbl(double x) => BitConverter.DoubleToUInt64Bits(x);

    private static LaneResult Op(SimdOperation op, ulong a, ulong b, uint mxcsr = Masked, FloatFormat? f = null) =>
        SimdFloat.Compute(op, f ?? S, a, b, mxcsr);

    [TestCase((int)RoundingMode.Nearest, 0x3EAAAAABu, 0xBEAAAAABu)]
    [TestCase((int)RoundingMode.Down, 0x3EAAAAAAu, 0xBEAAAAABu)]
    [TestCase((int)RoundingMode.Up, 0x3EAAAAABu, 0xBEAAAAAAu)]
    [TestCase((int)RoundingMode.TowardZero, 0x3EAAAAAAu, 0xBEAAAAAAu)]
    public void OneThirdSingleRoundsPerRc(int rounding, uint positive, uint negative)
    {
        // 1/3 = 1.0101...B * 2^-2: after 23 fraction bits 0101...010 the rest is 0.1010...B of a
        // last place, above one half (vol. 1, table 4-8: nearest rounds up, down/zero truncate).
        var p = Op(SimdOperation.Divide, F(1f), F(3f), Rc(rounding));
        var n = Op(SimdOperation.Divide, F(-1f), F(3f), Rc(rounding));
        Assert.Multiple(() =>
        {
            Assert.That(p, Is.EqualTo(new LaneResult(positive, PE)), "+1/3");
            Assert.That(n, Is.EqualTo(new LaneResult(negative, PE)), "-1/3");
        });
    }

    [TestCase((int)RoundingMode.Nearest, 0x3FD5555555555555ul)]
    [TestCase((int)RoundingMode.Down, 0x3FD5555555555555ul)]
    [TestCase((int)RoundingMode.Up, 0x3FD5555555555556ul)]
    [TestCase((int)RoundingMode.TowardZero, 0x3FD5555555555555ul)]
    public void OneThirdDoubleRoundsPerRc(int rounding, ulong expected)
    {
        // With 52 fraction bits (0101...01) the rest is 0.0101...B of a last place, below one half.
        Assert.That(Op(SimdOperation.Divide, Dbl(1), Dbl(3), Rc(rounding), D), Is.EqualTo(new LaneResult(expected, PE)));
    }

    [Test(Description = "Vol. 1, 4.8.4: round to nearest breaks a tie to the even significand")]
    public void TiesGoToEven()
    {
        ulong halfUlp = F(MathF.ScaleB(1f, -24));
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Add, F(1f), halfUlp), Is.EqualTo(new LaneResult(0x3F800000, PE)), "1 + 2^-24: to the even 1.0");
            Assert.That(Op(SimdOperation.Add, 0x3F800001, halfUlp), Is.EqualTo(new LaneResult(0x3F800002, PE)), "odd last bit: up");
            Assert.That(Op(SimdOperation.Add, F(1f), halfUlp, Rc(RoundingMode.Up)), Is.EqualTo(new LaneResult(0x3F800001, PE)));
        });
    }

    [TestCase((int)RoundingMode.Nearest, 0x7F800000u, 0xFF800000u)]
    [TestCase((int)RoundingMode.Down, 0x7F7FFFFFu, 0xFF800000u)]
    [TestCase((int)RoundingMode.Up, 0x7F800000u, 0xFF7FFFFFu)]
    [TestCase((int)RoundingMode.TowardZero, 0x7F7FFFFFu, 0xFF7FFFFFu)]
    public void MaskedOverflowFollowsTable4_10(int rounding, uint positive, uint negative)
    {
        ulong max = F(float.MaxValue);
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Multiply, max, F(2f), Rc(rounding)), Is.EqualTo(new LaneResult(positive, OE | PE)));
            Assert.That(Op(SimdOperation.Multiply, max, F(-2f), Rc(rounding)), Is.EqualTo(new LaneResult(negative, OE | PE)));
        });
    }

    [Test(Description = "Vol. 1, 4.9.1.4 and 11.5.2.4: unmasked overflow reports OE, and PE only if the result rounded with unbounded exponent is inexact")]
    public void UnmaskedOverflowFlags()
    {
        uint unmasked = Masked & ~(OE << MaskShift);
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Multiply, F(MathF.ScaleB(1f, 127)), F(2f), unmasked).Flags, Is.EqualTo(OE), "2^128 is exact");
            Assert.That(Op(SimdOperation.Multiply, F(float.MaxValue), F(float.MaxValue), unmasked).Flags, Is.EqualTo(OE | PE));
        });
    }

    [Test(Description = "Vol. 1, 4.9.1.5 and 11.5.2.5: masked underflow delivers the denormal; UE is set only with PE, when that denormal is inexact")]
    public void MaskedUnderflowNeedsInexact()
    {
        ulong half = F(0.5f);
        Assert.Multiple(() =>
        {
            // 2^-126 * 0.5 = 2^-127 = 00400000H exactly: tiny but exact, no flag.
            Assert.That(Op(SimdOperation.Multiply, 0x00800000, half), Is.EqualTo(new LaneResult(0x00400000, 0)));

            // (2^23 + 1) * 2^-150: halfway between two denormals, to the even 00400000H.
            Assert.That(Op(SimdOperation.Multiply, 0x00800001, half), Is.EqualTo(new LaneResult(0x00400000, UE | PE)));

            // Round toward zero loses a result below the smallest denormal altogether: +0 (and the
            // denormal source is DE as well).
            Assert.That(Op(SimdOperation.Multiply, 0x00000001, half, Rc(RoundingMode.TowardZero)), Is.EqualTo(new LaneResult(0, DE | UE | PE)));
        });
    }

    [Test(Description = "Vol. 1, 4.9.1.5: tininess is judged on the result rounded with unbounded exponent (after rounding)")]
    public void TininessIsDetectedAfterRounding()
    {
        // (2^25 - 1) * 2^-151 = (31 * 601) * 2^-75 * 1801 * 2^-76 is just below 2^-126; rounded to
        // 24 bits with unbounded exponent it becomes 2^-126, which is not tiny: PE only, 00800000H.
        ulong a = F(MathF.ScaleB(31 * 601, -75)), b = F(MathF.ScaleB(1801, -76));
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Multiply, a, b), Is.EqualTo(new LaneResult(0x00800000, PE)));

            // Toward zero the unbounded rounding stays below 2^-126: tiny, and the denormal
            // (2^25 - 1) / 4 = 8388607.75 truncates to 007FFFFFH.
            Assert.That(Op(SimdOperation.Multiply, a, b, Rc(RoundingMode.TowardZero)), Is.EqualTo(new LaneResult(0x007FFFFF, UE | PE)));
        });
    }

    [Test(Description = "Vol. 1, 10.2.3.3: with FZ and UM masked a tiny result is a zero of the true sign, with UE and PE")]
    public void FlushToZero()
    {
        uint ftz = Masked | FZ;
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Multiply, 0x00800000, F(0.5f), ftz), Is.EqualTo(new LaneResult(0, UE | PE)));
            Assert.That(Op(SimdOperation.Multiply, 0x00800000, F(-0.5f), ftz), Is.EqualTo(new LaneResult(0x80000000, UE | PE)));
            Assert.That(Op(SimdOperation.Multiply, 0x00800000, F(2f), ftz), Is.EqualTo(new LaneResult(0x01000000, 0)), "normal results are kept");

            // FZ does not apply when underflow is unmasked: the exception is reported instead.
            Assert.That(Op(SimdOperation.Multiply, 0x00800000, F(0.5f), ftz & ~(UE << MaskShift)).Flags, Is.EqualTo(UE));
        });
    }

    [Test(Description = "Vol. 1, 10.2.3.4 and 11.5.2.2: a denormal source is DE; with DAZ it is a zero of its sign and raises no DE")]
    public void DenormalOperandsAndDaz()
    {
        ulong denormal = 0x00000001, negativeDenormal = 0x80000001;
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Add, denormal, 0), Is.EqualTo(new LaneResult(1, DE)), "exact denormal sum: DE only");
            Assert.That(Op(SimdOperation.Add, denormal, 0, Masked | DAZ), Is.EqualTo(new LaneResult(0, 0)));
            Assert.That(Op(SimdOperation.Multiply, negativeDenormal, F(1f), Masked | DAZ), Is.EqualTo(new LaneResult(0x80000000, 0)), "-0");
            Assert.That(Op(SimdOperation.Divide, F(1f), denormal, Masked | DAZ), Is.EqualTo(new LaneResult(0x7F800000, ZE)), "1 / (denormal as 0)");
            Assert.That(SimdFloat.Compare(S, denormal, denormal, false, Masked), Is.EqualTo((Relation.Equal, DE)));
            Assert.That(SimdFloat.Compare(S, denormal, 0, false, Masked | DAZ), Is.EqualTo((Relation.Equal, 0u)));
        });
    }

    [Test(Description = "Vol. 1, 4.9.1.2 and 11.5.2.1: invalid operations give the QNaN indefinite (FFC00000H, FFF8000000000000H) and IE")]
    public void InvalidOperationsGiveTheIndefinite()
    {
        ulong inf = F(float.PositiveInfinity), ninf = F(float.NegativeInfinity);
        var invalid = new LaneResult(0xFFC00000, IE);
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Divide, 0, 0), Is.EqualTo(invalid), "0 / 0");
            Assert.That(Op(SimdOperation.Divide, inf, ninf), Is.EqualTo(invalid), "inf / inf");
            Assert.That(Op(SimdOperation.Add, inf, ninf), Is.EqualTo(invalid), "inf + -inf");
            Assert.That(Op(SimdOperation.Subtract, inf, inf), Is.EqualTo(invalid), "inf - inf");
            Assert.That(Op(SimdOperation.Multiply, 0x80000000, inf), Is.EqualTo(invalid), "-0 * inf");
            Assert.That(Op(SimdOperation.SquareRoot, 0, F(-1f)), Is.EqualTo(invalid), "sqrt(-1)");
            Assert.That(Op(SimdOperation.SquareRoot, 0, ninf), Is.EqualTo(invalid), "sqrt(-inf)");
            Assert.That(Op(SimdOperation.Divide, 0, 0, Masked, D), Is.EqualTo(new LaneResult(0xFFF8000000000000, IE)), "double 0 / 0");
        });
    }

    [Test(Description = "Vol. 1, 11.5.2.3: a finite non-zero dividend over zero is ZE and a signed infinity; infinity over zero is not ZE")]
    public void DivideByZero()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Divide, F(1f), 0), Is.EqualTo(new LaneResult(0x7F800000, ZE)));
            Assert.That(Op(SimdOperation.Divide, F(-1f), 0), Is.EqualTo(new LaneResult(0xFF800000, ZE)));
            Assert.That(Op(SimdOperation.Divide, F(1f), 0x80000000), Is.EqualTo(new LaneResult(0xFF800000, ZE)));
            Assert.That(Op(SimdOperation.Divide, F(float.PositiveInfinity), 0), Is.EqualTo(new LaneResult(0x7F800000, 0)));
        });
    }

    [Test(Description = "Vol. 1, 4.8.3.5, table 4-7 (SSE): the first source if it is a NaN, else the second; an SNaN is quieted and is IE")]
    public void NaNPropagation()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Add, 0x7FC00001, 0x7F800002), Is.EqualTo(new LaneResult(0x7FC00001, IE)), "QNaN, SNaN: first source");
            Assert.That(Op(SimdOperation.Add, 0xFF800003, 0x7FC00004), Is.EqualTo(new LaneResult(0xFFC00003, IE)), "SNaN, QNaN: first source quieted");
            Assert.That(Op(SimdOperation.Multiply, 0x7FC00005, 0x7FC00006), Is.EqualTo(new LaneResult(0x7FC00005, 0)), "two QNaNs: the first, no IE");
            Assert.That(Op(SimdOperation.Subtract, F(1f), 0x7F800007), Is.EqualTo(new LaneResult(0x7FC00007, IE)), "value, SNaN");
            Assert.That(Op(SimdOperation.Divide, F(1f), 0xFFC00008), Is.EqualTo(new LaneResult(0xFFC00008, 0)), "value, QNaN");
            Assert.That(Op(SimdOperation.SquareRoot, 0x7FC00001, 0x7F800009), Is.EqualTo(new LaneResult(0x7FC00009, IE)), "SQRT: its one source");
            Assert.That(Op(SimdOperation.Add, 0x7FF0000000000001, Dbl(1), Masked, D), Is.EqualTo(new LaneResult(0x7FF8000000000001, IE)));
        });
    }

    [Test(Description = "Vol. 2, MINSS/MAXSS: any NaN is IE and returns the second source unchanged; two zeros return the second source; equal values the second")]
    public void MinMaxSecondOperandRules()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Minimum, 0x7FC00000, F(1f)), Is.EqualTo(new LaneResult(F(1f), IE)), "QNaN first: second source, IE");
            Assert.That(Op(SimdOperation.Maximum, F(1f), 0x7F800001), Is.EqualTo(new LaneResult(0x7F800001, IE)), "SNaN second: returned as is");
            Assert.That(Op(SimdOperation.Minimum, 0, 0x80000000).Value, Is.EqualTo(0x80000000ul), "min(+0, -0) = -0, the second");
            Assert.That(Op(SimdOperation.Minimum, 0x80000000, 0).Value, Is.EqualTo(0ul), "min(-0, +0) = +0, the second");
            Assert.That(Op(SimdOperation.Maximum, F(1f), F(2f)), Is.EqualTo(new LaneResult(F(2f), 0)));
            Assert.That(Op(SimdOperation.Maximum, F(3f), F(2f)), Is.EqualTo(new LaneResult(F(3f), 0)));
            Assert.That(Op(SimdOperation.Minimum, F(-3f), F(2f)), Is.EqualTo(new LaneResult(F(-3f), 0)));
            Assert.That(Op(SimdOperation.Minimum, 1, F(2f)), Is.EqualTo(new LaneResult(1, DE)), "denormal source: DE");
        });
    }

    [TestCase(0, false, false)] // EQ: quiet
    [TestCase(1, false, true)]  // LT: signaling
    [TestCase(2, false, true)]  // LE
    [TestCase(3, true, false)]  // UNORD
    [TestCase(4, true, false)]  // NEQ
    [TestCase(5, true, true)]   // NLT
    [TestCase(6, true, true)]   // NLE
    [TestCase(7, false, false)] // ORD
    public void ComparePredicatesOnAQNaN(int predicate, bool holds, bool signals)
    {
        // Vol. 2, CMPPS, the predicate table: unordered operands satisfy UNORD, NEQ, NLT and NLE;
        // LT, LE, NLT and NLE signal on a QNaN. An SNaN is IE whatever the predicate.
        var q = SimdFloat.ComparePredicate(S, 0x7FC00000, F(1f), predicate, Masked);
        var s = SimdFloat.ComparePredicate(S, F(1f), 0x7F800001, predicate, Masked);
        Assert.Multiple(() =>
        {
            Assert.That(q, Is.EqualTo(new LaneResult(holds ? 0xFFFFFFFF : 0, signals ? IE : 0)), "QNaN");
            Assert.That(s, Is.EqualTo(new LaneResult(holds ? 0xFFFFFFFF : 0, IE)), "SNaN");
        });
    }

    [Test(Description = "Vol. 2, CMPPD: ordered predicates on 1 and 2, and -0 equal to +0; the result is a full-width mask")]
    public void ComparePredicatesOrdered()
    {
        bool[] oneVsTwo = [false, true, true, false, true, false, false, true];
        for (int p = 0; p < 8; p++)
        {
            var r = SimdFloat.ComparePredicate(D, Dbl(1), Dbl(2), p, Masked);
            Assert.That(r, Is.EqualTo(new LaneResult(oneVsTwo[p] ? ulong.MaxValue : 0, 0)), $"predicate {p}");
        }

        Assert.That(SimdFloat.ComparePredicate(D, Dbl(-0.0), 0, 0, Masked).Value, Is.EqualTo(ulong.MaxValue), "-0 EQ +0");
    }

    [Test(Description = "Vol. 2, COMISS/UCOMISS: a QNaN is IE for COMISS only; an SNaN for both")]
    public void ComissSignalsOnQNaNUcomissDoesNot()
    {
        Assert.Multiple(() =>
        {
            Assert.That(SimdFloat.Compare(S, 0x7FC00000, F(1f), true, Masked), Is.EqualTo((Relation.Unordered, IE)), "COMISS QNaN");
            Assert.That(SimdFloat.Compare(S, 0x7FC00000, F(1f), false, Masked), Is.EqualTo((Relation.Unordered, 0u)), "UCOMISS QNaN");
            Assert.That(SimdFloat.Compare(S, F(1f), 0x7F800001, false, Masked), Is.EqualTo((Relation.Unordered, IE)), "UCOMISS SNaN");
            Assert.That(SimdFloat.Compare(S, F(-1f), F(1f), false, Masked), Is.EqualTo((Relation.Less, 0u)));
        });
    }

    [Test(Description = "Signed zeros of exact results (vol. 1, 4.8.3.3; IEEE 754 6.3): x - x is +0, -0 rounding down; sqrt(-0) = -0")]
    public void SignedZeros()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Op(SimdOperation.Subtract, F(1f), F(1f)), Is.EqualTo(new LaneResult(0, 0)));
            Assert.That(Op(SimdOperation.Subtract, F(1f), F(1f), Rc(RoundingMode.Down)), Is.EqualTo(new LaneResult(0x80000000, 0)));
            Assert.That(Op(SimdOperation.Add, 0x80000000, 0x80000000), Is.EqualTo(new LaneResult(0x80000000, 0)));
            Assert.That(Op(SimdOperation.Add, 0x80000000, 0), Is.EqualTo(new LaneResult(0, 0)));
            Assert.That(Op(SimdOperation.SquareRoot, 0, 0x80000000), Is.EqualTo(new LaneResult(0x80000000, 0)));
            Assert.That(Op(SimdOperation.SquareRoot, 0, F(2f)), Is.EqualTo(new LaneResult(0x3FB504F3, PE)), "sqrt(2) = 1.41421354");
            Assert.That(Op(SimdOperation.SquareRoot, 0, F(0.25f)), Is.EqualTo(new LaneResult(F(0.5f), 0)));
        });
    }

    /// <summary>
    /// In round to nearest every operation must give the host's IEEE 754 result bit for bit
    /// (NaN payloads aside), and PE exactly when the result is inexact. Deterministic pseudo-random
    /// operands spread over all exponents, denormals included.
    /// </summary>
    [Test]
    public void RoundToNearestMatchesIeeeHostArithmetic()
    {
        var random = new Random(451);
        for (int n = 0; n < 20000; n++)
        {
            float a = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            float b = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            double da = BitConverter.Int64BitsToDouble(random.NextInt64() ^ ((long)random.Next() << 33));
            double db = BitConverter.Int64BitsToDouble(random.NextInt64() ^ ((long)random.Next() << 33));
            if (float.IsNaN(a) || float.IsNaN(b) || double.IsNaN(da) || double.IsNaN(db))
                continue;
            Check(SimdOperation.Add, S, F(a), F(b), F(a + b), null);
            Check(SimdOperation.Multiply, S, F(a), F(b), F(a * b), (double)a * b != (double)(a * b)); // the product is exact in double
            Check(SimdOperation.Divide, S, F(a), F(b), F(a / b), null);
            Check(SimdOperation.SquareRoot, S, 0, F(b), F(MathF.Sqrt(b)), null);
            Check(SimdOperation.Add, D, Dbl(da), Dbl(db), Dbl(da + db), null);
            Check(SimdOperation.Multiply, D, Dbl(da), Dbl(db), Dbl(da * db), null);
            Check(SimdOperation.Divide, D, Dbl(da), Dbl(db), Dbl(da / db), null);
            Check(SimdOperation.SquareRoot, D, 0, Dbl(db), Dbl(Math.Sqrt(db)), null);
        }
    }

    /// <summary>
    /// The directed modes (vol. 1, table 4-8) on single-precision products, which are exact in
    /// double: down is the largest float not above the exact product, up the smallest not below,
    /// toward zero the one of those two nearer zero. The host's round-to-nearest conversion and one
    /// step (BitIncrement/BitDecrement) give those floats independently of the code under test.
    /// </summary>
    [Test]
    public void DirectedRoundingOfProductsMatchesTheExactProduct()
    {
        var random = new Random(470);
        for (int n = 0; n < 20000; n++)
        {
            float a = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            float b = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
            double exact = (double)a * b;
            if (double.IsNaN(exact))
                continue;
            float nearest = (float)exact;
            float down = nearest > exact ? MathF.BitDecrement(nearest) : nearest;
            float up = nearest < exact ? MathF.BitIncrement(nearest) : nearest;
            float zero = exact < 0 ? up : down;
            foreach (var (rc, expected) in new[] { (RoundingMode.Down, down), (RoundingMode.Up, up), (RoundingMode.TowardZero, zero) })
            {
                var r = Op(SimdOperation.Multiply, F(a), F(b), Rc(rc));
                Assert.That(r.Value, Is.EqualTo(F(expected)), $"{a:R} * {b:R} rounded {rc}");
            }
        }
    }

    private static void Check(SimdOperation op, FloatFormat f, ulong a, ulong b, ulong expected, bool? inexact)
    {
        var r = SimdFloat.Compute(op, f, a, b, Masked);
        if (f.IsNaN(expected))
        {
            Assert.That(f.IsNaN(r.Value) && (r.Flags & IE) != 0, Is.True, $"{op} {a:X} {b:X}: an invalid operation");
            return;
        }

        Assert.That(r.Value, Is.EqualTo(expected), $"{op} {f.Width}-bit {a:X} {b:X}");
        if (inexact is { } i && !f.IsInfinity(expected) && !f.IsZero(expected) && f.Exponent(expected) != 0)
            Assert.That((r.Flags & PE) != 0, Is.EqualTo(i), $"{op} {a:X} {b:X}: PE");
    }
}
