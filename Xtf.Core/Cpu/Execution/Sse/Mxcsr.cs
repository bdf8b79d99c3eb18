namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>The rounding-control field of MXCSR, bits 14:13 (SDM vol. 1, 4.8.4, table 4-8).</summary>
internal enum RoundingMode
{
    /// <summary>Round to nearest, ties to even (00B).</summary>
    Nearest = 0,

    /// <summary>Round down, toward negative infinity (01B).</summary>
    Down = 1,

    /// <summary>Round up, toward positive infinity (10B).</summary>
    Up = 2,

    /// <summary>Round toward zero, truncate (11B).</summary>
    TowardZero = 3,
}

/// <summary>
/// MXCSR bits (SDM vol. 1, 10.2.3, figure 10-3): the six exception flags (bits 5:0), DAZ (6),
/// the six masks (12:7, each its flag shifted by 7), RC (14:13) and FZ (15).
/// </summary>
internal static class Mxcsr
{
    public const uint IE = 1 << 0, DE = 1 << 1, ZE = 1 << 2, OE = 1 << 3, UE = 1 << 4, PE = 1 << 5;

    /// <summary>All six exception flags.</summary>
    public const uint Flags = 0x3F;

    /// <summary>
    /// The pre-computation exceptions (SDM vol. 1, 11.5.1): invalid operation, denormal operand
    /// and divide-by-zero are detected from the operands, before any result exists.
    /// </summary>
    public const uint PreComputation = IE | DE | ZE;

    /// <summary>
    /// Denormals-are-zeros (bit 6, SDM vol. 1, 10.2.3.4). The arithmetic honours it, but this
    /// CPU's MXCSR_MASK (<see cref="X86Cpu.MxcsrMask"/>) does not include it yet, so LDMXCSR and
    /// FXRSTOR refuse to set it (#GP) until the CPU model (issue 17) reports it.
    /// </summary>
    public const uint DAZ = 1 << 6;

    /// <summary>Flush-to-zero (bit 15, SDM vol. 1, 10.2.3.3).</summary>
    public const uint FZ = 1 << 15;

    public const int MaskShift = 7, RoundingShift = 13;

    public static RoundingMode Rounding(uint mxcsr) => (RoundingMode)((mxcsr >> RoundingShift) & 3);

    /// <summary>The flags of <paramref name="flags"/> whose mask bit in <paramref name="mxcsr"/> is clear.</summary>
    public static uint Unmasked(uint mxcsr, uint flags) => flags & ~(mxcsr >> MaskShift) & Flags;

    public static bool Masked(uint mxcsr, uint flag) => Unmasked(mxcsr, flag) == 0;
}
