using Xtf.Core.Cpu;

namespace Xtf.Core.Guest;

/// <summary>
/// XTF's exinfo_t: <c>1&lt;&lt;31 | vector&lt;&lt;16 | error_code</c>, 0 for "no exception".
/// <see cref="ToString"/> is XTF's <c>%pe</c>: <c>nothing</c>, <c>#UD</c>, <c>#GP[0000]</c>,
/// <c>#NP[IDT[3]]</c>, <c>#GP[GDT[1],EXT]</c>, <c>#PF[-d-sWP]</c>.
/// </summary>
public readonly record struct ExInfo(uint Raw)
{
    public const uint Expected = 1u << 31;

    public static readonly ExInfo None = new(0);

    public static ExInfo Fault(X86Vector vector, uint errorCode = 0) => Fault((int)vector, errorCode);

    public static ExInfo Fault(int vector, uint errorCode = 0) =>
        new(Expected | ((uint)(vector & 0xFF) << 16) | (errorCode & 0xFFFF));

    public bool IsNone => Raw == 0;

    public int Vector => (int)((Raw >> 16) & 0xFF);

    public uint ErrorCode => Raw & 0xFFFF;

    private static readonly string[] Names =
        ["DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "CSO", "TS", "NP", "SS", "GP", "PF", "SPV", "MF", "AC", "MC", "XM", "VE", "CP"];

    /// <summary>The vector's mnemonic with '#', "??" for vectors without one.</summary>
    public static string VectorName(int vector) => vector < Names.Length ? "#" + Names[vector] : "??";

    public override string ToString()
    {
        if (Raw == 0)
            return "nothing";
        int vec = Vector;
        uint ec = ErrorCode;
        string name = VectorName(vec);
        bool hasEc = vec < 32 && X86VectorInfo.HasErrorCode(vec);
        if (ec == 0 && !hasEc)
            return name;
        return $"{name}[{DecodeErrorCode(vec, ec)}]";
    }

    /// <summary>
    /// Error-code text: #PF as six letters (K I R U W P, or - d - s r -); selector-style codes of
    /// #TS, #NP, #SS, #GP, #AC as IDT/LDT/GDT[index] with ",EXT"; anything else as four hex digits.
    /// </summary>
    public static string DecodeErrorCode(int vector, uint ec)
    {
        if (vector == (int)X86Vector.PF)
        {
            return string.Concat(
                (ec & 0x20) != 0 ? "K" : "-",
                (ec & 0x10) != 0 ? "I" : "d",
                (ec & 0x08) != 0 ? "R" : "-",
                (ec & 0x04) != 0 ? "U" : "s",
                (ec & 0x02) != 0 ? "W" : "r",
                (ec & 0x01) != 0 ? "P" : "-");
        }

        bool selectorStyle = vector is (int)X86Vector.TS or (int)X86Vector.NP or (int)X86Vector.SS
            or (int)X86Vector.GP or (int)X86Vector.AC;
        if (selectorStyle && ec != 0)
        {
            char table = (ec & 2) != 0 ? 'I' : (ec & 4) != 0 ? 'L' : 'G';
            return $"{table}DT[{ec >> 3}]" + ((ec & 1) != 0 ? ",EXT" : "");
        }

        return ec.ToString("x4");
    }
}

/// <summary>Error codes that name a selector or IDT vector (SDM vol. 3, 6.13).</summary>
public static class SelectorErrorCode
{
    public static uint Idt(int vector, bool external = false) => (uint)((vector << 3) | 2 | (external ? 1 : 0));

    public static uint Idt(X86Vector vector, bool external = false) => Idt((int)vector, external);

    public static uint Gdt(int index, bool external = false) => (uint)((index << 3) | (external ? 1 : 0));

    public static uint Ldt(int index, bool external = false) => (uint)((index << 3) | 4 | (external ? 1 : 0));
}
