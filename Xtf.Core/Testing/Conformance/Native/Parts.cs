using Iced.Intel;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>Reads and writes the part of a <see cref="OracleState"/> an Iced 8/16/32/64-bit GPR names (AH-BH are bits 15:8 of RAX-RBX).</summary>
internal static class Parts
{
    public static int Index(Register r) => r.GetFullRegister() - Register.RAX;

    public static ulong Read(OracleState file, Register r)
    {
        var (shift, mask) = Field(r);
        return (file.Gpr[Index(r)] >> shift) & mask;
    }

    /// <summary>Writes <paramref name="value"/> into the part, leaving the other bits of the register as they are.</summary>
    public static void Write(OracleState file, Register r, ulong value)
    {
        var (shift, mask) = Field(r);
        int index = Index(r);
        file.Gpr[index] = (file.Gpr[index] & ~(mask << shift)) | ((value & mask) << shift);
    }

    private static (int Shift, ulong Mask) Field(Register r)
    {
        int size = r.GetSize();
        int shift = r is >= Register.AH and <= Register.BH ? 8 : 0;
        return (shift, size == 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1);
    }
}
