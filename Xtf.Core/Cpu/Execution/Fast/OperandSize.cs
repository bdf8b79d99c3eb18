namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// An operand size as a type, so that each specialised form is compiled once per size with the
/// masks and register-merge rule folded in (SDM vol. 1, 3.4.1.1: 8- and 16-bit register writes
/// keep the other bits, 32-bit writes zero bits 63:32, 64-bit writes replace the register).
/// </summary>
internal interface IOperandSize
{
    static abstract int Bytes { get; }

    static abstract ulong Mask { get; }

    static abstract ulong Sign { get; }

    /// <summary>The register after writing <paramref name="value"/> at this size into <paramref name="old"/>.</summary>
    static abstract ulong Merge(ulong old, ulong value);
}

internal readonly struct Size8 : IOperandSize
{
    public static int Bytes => 1;

    public static ulong Mask => 0xFF;

    public static ulong Sign => 0x80;

    public static ulong Merge(ulong old, ulong value) => (old & ~0xFFul) | (byte)value;
}

internal readonly struct Size16 : IOperandSize
{
    public static int Bytes => 2;

    public static ulong Mask => 0xFFFF;

    public static ulong Sign => 0x8000;

    public static ulong Merge(ulong old, ulong value) => (old & ~0xFFFFul) | (ushort)value;
}

internal readonly struct Size32 : IOperandSize
{
    public static int Bytes => 4;

    public static ulong Mask => 0xFFFFFFFF;

    public static ulong Sign => 0x80000000;

    public static ulong Merge(ulong old, ulong value) => (uint)value;
}

internal readonly struct Size64 : IOperandSize
{
    public static int Bytes => 8;

    public static ulong Mask => ulong.MaxValue;

    public static ulong Sign => 1ul << 63;

    public static ulong Merge(ulong old, ulong value) => value;
}
