namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>
/// An IEEE 754 binary format as SSE holds it in an XMM lane (SDM vol. 1, 4.2.2 and 4.8, table
/// 4-3): sign, biased exponent, fraction without the integer bit. Values are raw bit patterns in
/// the low <see cref="Width"/> bits of a ulong.
/// </summary>
internal sealed class FloatFormat
{
    /// <summary>Single precision: 8-bit exponent, bias 127, 23-bit fraction.</summary>
    public static readonly FloatFormat Single = new(32, 8);

    /// <summary>Double precision: 11-bit exponent, bias 1023, 52-bit fraction.</summary>
    public static readonly FloatFormat Double = new(64, 11);

    private FloatFormat(int width, int exponentBits)
    {
        Width = width;
        FractionBits = width - 1 - exponentBits;
        ExponentField = (1 << exponentBits) - 1;
        Bias = ExponentField >> 1;
        SignBit = 1ul << (width - 1);
        FractionMask = (1ul << FractionBits) - 1;
        QuietBit = 1ul << (FractionBits - 1);
        PositiveInfinity = (ulong)ExponentField << FractionBits;
        MaxFinite = PositiveInfinity - 1;
        Mask = width == 64 ? ulong.MaxValue : (1ul << width) - 1;

        // SDM vol. 1, 4.8.3.7, table 4-3: the QNaN floating-point indefinite is sign 1, exponent
        // all ones, fraction 1 followed by zeros (FFC00000H, FFF8000000000000H).
        Indefinite = SignBit | PositiveInfinity | QuietBit;
    }

    public int Width { get; }

    /// <summary>Lane width in bytes.</summary>
    public int Bytes => Width / 8;

    public int FractionBits { get; }

    /// <summary>The all-ones biased exponent (infinities and NaNs).</summary>
    public int ExponentField { get; }

    public int Bias { get; }

    /// <summary>The unbiased exponent of the smallest normal number (1 - bias); denormals share it.</summary>
    public int MinExponent => 1 - Bias;

    public ulong SignBit { get; }

    public ulong FractionMask { get; }

    /// <summary>The fraction's top bit: set in a QNaN, clear in an SNaN (SDM vol. 1, 4.8.3.4).</summary>
    public ulong QuietBit { get; }

    public ulong PositiveInfinity { get; }

    /// <summary>The largest finite positive value, 1.11..1B * 2^bias.</summary>
    public ulong MaxFinite { get; }

    public ulong Indefinite { get; }

    public ulong Mask { get; }

    public int Exponent(ulong x) => (int)((x >> FractionBits) & (ulong)ExponentField);

    public bool IsNegative(ulong x) => (x & SignBit) != 0;

    public bool IsNaN(ulong x) => Exponent(x) == ExponentField && (x & FractionMask) != 0;

    public bool IsSignalingNaN(ulong x) => IsNaN(x) && (x & QuietBit) == 0;

    public bool IsInfinity(ulong x) => (x & ~SignBit & Mask) == PositiveInfinity;

    public bool IsZero(ulong x) => (x & ~SignBit & Mask) == 0;

    public bool IsDenormal(ulong x) => Exponent(x) == 0 && (x & FractionMask) != 0;

    /// <summary>The QNaN an SNaN becomes: the same NaN with the quiet bit set (SDM vol. 1, 4.8.3.5).</summary>
    public ulong Quiet(ulong x) => x | QuietBit;

    public ulong Zero(bool negative) => negative ? SignBit : 0;

    public ulong Infinity(bool negative) => (negative ? SignBit : 0) | PositiveInfinity;
}
