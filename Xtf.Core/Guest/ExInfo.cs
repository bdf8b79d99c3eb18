using Xtf.Core.Cpu;

namespace Xtf.Core.Guest;

/// <summary>
/// XTF's exinfo_t (arch/x86/include/arch/exinfo.h): <c>1&lt;&lt;31 | (vector &amp; 0xff)&lt;&lt;16 |
/// (error_code &amp; 0xffff)</c>, 0 for "no exception". <see cref="ToString"/> is XTF's <c>%pe</c>
/// (x86_decode_exinfo and arch_fmt_pointer in arch/x86/decode.c): <c>nothing</c>, <c>#UD</c>,
/// <c>#GP[0000]</c>, <c>#NP[IDT[3]]</c>, <c>#GP[GDT[1],EXT]</c>, <c>#PF[-d-sWP]</c>.
/// </summary>
public readonly record struct ExInfo(uint Raw)
{
    /// <summary>Bit 31 of an exinfo_t, set in every non-empty value (XTF's EXINFO_EXPECTED).</summary>
    public const uint Expected = 1u << 31;

    /// <summary>No exception (raw 0), printed as <c>nothing</c>.</summary>
    public static readonly ExInfo None = new(0);

    /// <summary>
    /// XTF formats <c>%pe</c> into a <c>char buf[16]</c> with snprintf, so the text is cut to 15
    /// characters: <c>#GP[IDT[128],EXT]</c> prints as <c>#GP[IDT[128],EX</c>.
    /// </summary>
    public const int MaxFormattedLength = 15;

    /// <summary>XTF's EXINFO_SYM(vector, errorCode): <see cref="Expected"/> | vector &lt;&lt; 16 | the low 16 bits of the error code.</summary>
    public static ExInfo Fault(X86Vector vector, uint errorCode = 0) => Fault((int)vector, errorCode);

    /// <summary>XTF's EXINFO(vector, errorCode): <see cref="Expected"/> | (vector &amp; 0xff) &lt;&lt; 16 | (errorCode &amp; 0xffff).</summary>
    public static ExInfo Fault(int vector, uint errorCode = 0) =>
        new(Expected | ((uint)(vector & 0xFF) << 16) | (errorCode & 0xFFFF));

    /// <summary>True for raw 0: the snippet or access raised nothing.</summary>
    public bool IsNone => Raw == 0;

    /// <summary>XTF's exinfo_vec.</summary>
    public int Vector => (int)((Raw >> 16) & 0xFF);

    /// <summary>XTF's exinfo_ec.</summary>
    public uint ErrorCode => Raw & 0xFFFF;

    /// <summary>XTF's x86_exc_short_name table: vectors 0 (#DE) to 20 (#VE); anything else is "??".</summary>
    private static readonly string[] Names =
        ["DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "CSO", "TS", "NP", "SS", "GP", "PF", "SPV", "MF", "AC", "MC", "XM", "VE"];

    /// <summary>
    /// XTF's X86_EXC_HAVE_EC: #DF, #TS, #NP, #SS, #GP, #PF, #AC. (XTF's table stops before #CP, so
    /// a #CP with error code 0 prints without brackets, unlike what SDM table 6-1 would suggest.)
    /// </summary>
    private const uint HaveErrorCode = (1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 17);

    // Segment-style error code bits (SDM vol. 3, 6.13; XTF's X86_EC_*).
    private const uint EcExt = 1, EcIdt = 2, EcTi = 4;

    // Page-fault error code bits (SDM vol. 3, 4.7; XTF's X86_PFEC_*).
    private const uint PfecPresent = 1, PfecWrite = 2, PfecUser = 4, PfecRsvd = 8, PfecInsn = 0x10, PfecPk = 0x20;

    /// <summary>XTF's x86_exc_short_name: the vector's mnemonic with '#', "??" for vectors without one.</summary>
    public static string VectorName(int vector) => vector >= 0 && vector < Names.Length ? "#" + Names[vector] : "??";

    /// <summary>True where XTF prints the error code even when it is 0 (X86_EXC_HAVE_EC).</summary>
    public static bool XtfHasErrorCode(int vector) => vector is >= 0 and < 32 && ((1u << vector) & HaveErrorCode) != 0;

    /// <summary>XTF's <c>%pe</c>.</summary>
    public override string ToString()
    {
        string text;
        if (Raw == 0)
            text = "nothing";
        else if (ErrorCode != 0 || XtfHasErrorCode(Vector))
            text = $"{VectorName(Vector)}[{DecodeErrorCode(Vector, ErrorCode)}]";
        else
            text = VectorName(Vector);
        return text.Length > MaxFormattedLength ? text[..MaxFormattedLength] : text;
    }

    /// <summary>
    /// XTF's x86_exc_decode_ec: #PF as six letters (K/-, I/d, R/-, U/s, W/r, P/-, from bit 5 down
    /// to bit 0); a non-zero error code of #TS, #NP, #SS, #GP or #AC as a selector, IDT[vector]
    /// when bit 1 is set, else LDT or GDT[index] by bit 2, then ",EXT" for bit 0; anything else as
    /// four hex digits.
    /// </summary>
    public static string DecodeErrorCode(int vector, uint ec)
    {
        switch (vector)
        {
            case (int)X86Vector.PF:
                return string.Concat(
                    (ec & PfecPk) != 0 ? "K" : "-",
                    (ec & PfecInsn) != 0 ? "I" : "d",
                    (ec & PfecRsvd) != 0 ? "R" : "-",
                    (ec & PfecUser) != 0 ? "U" : "s",
                    (ec & PfecWrite) != 0 ? "W" : "r",
                    (ec & PfecPresent) != 0 ? "P" : "-");
            case (int)X86Vector.TS or (int)X86Vector.NP or (int)X86Vector.SS or (int)X86Vector.GP or (int)X86Vector.AC
                when ec != 0:
                char table = (ec & EcIdt) != 0 ? 'I' : (ec & EcTi) != 0 ? 'L' : 'G';
                return $"{table}DT[{ec >> 3}]" + ((ec & EcExt) != 0 ? ",EXT" : "");
            default:
                return ec.ToString("x4", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}

/// <summary>Error codes that name a selector or IDT vector (SDM vol. 3, 6.13).</summary>
public static class SelectorErrorCode
{
    /// <summary>IDT-vector error code: vector &lt;&lt; 3 | IDT (bit 1) | EXT (bit 0) when <paramref name="external"/>.</summary>
    public static uint Idt(int vector, bool external = false) => (uint)((vector << 3) | 2 | (external ? 1 : 0));

    /// <summary>IDT-vector error code for an architectural vector (see <see cref="Idt(int, bool)"/>).</summary>
    public static uint Idt(X86Vector vector, bool external = false) => Idt((int)vector, external);

    /// <summary>GDT selector error code: index &lt;&lt; 3, TI and IDT clear, EXT (bit 0) when <paramref name="external"/>.</summary>
    public static uint Gdt(int index, bool external = false) => (uint)((index << 3) | (external ? 1 : 0));

    /// <summary>LDT selector error code: index &lt;&lt; 3 | TI (bit 2), EXT (bit 0) when <paramref name="external"/>.</summary>
    public static uint Ldt(int index, bool external = false) => (uint)((index << 3) | 4 | (external ? 1 : 0));
}

/// <summary>Page-fault error codes (SDM vol. 3, 4.7; XTF's X86_PFEC_*).</summary>
[Flags]
public enum PageFaultErrorCode : uint
{
    /// <summary>No bits: a read from supervisor mode of a non-present page.</summary>
    None = 0,
    /// <summary>P (bit 0): the page was present (a protection violation) rather than not present.</summary>
    Present = 1,
    /// <summary>W/R (bit 1): the access was a write.</summary>
    Write = 2,
    /// <summary>U/S (bit 2): the access was a user-mode access (CPL 3, not an implicit supervisor access).</summary>
    User = 4,
    /// <summary>RSVD (bit 3): a reserved bit was set in a paging-structure entry.</summary>
    Reserved = 8,
    /// <summary>I/D (bit 4): the access was an instruction fetch (reported with NX or SMEP enabled).</summary>
    InstructionFetch = 0x10,
    /// <summary>PK (bit 5): protection-key violation.</summary>
    ProtectionKey = 0x20,
}
