using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;

namespace Xtf.Tests.Guests;

/// <summary>
/// XTF's <c>%pe</c> (arch/x86/decode.c: x86_exc_short_name, x86_exc_decode_ec, x86_decode_exinfo,
/// arch_fmt_pointer). Expected strings follow XTF's rules worked by hand: the name table covers
/// vectors 0-20, X86_EXC_HAVE_EC is {8, 10, 11, 12, 13, 14, 17}, and the result is formatted
/// into a 16-byte buffer (15 characters and the NUL).
/// </summary>
[TestFixture]
public sealed class ExInfoFormatTests
{
    private static readonly (int Vector, string Name)[] Named =
    [
        (0, "#DE"), (1, "#DB"), (2, "#NMI"), (3, "#BP"), (4, "#OF"), (5, "#BR"), (6, "#UD"), (7, "#NM"),
        (8, "#DF"), (9, "#CSO"), (10, "#TS"), (11, "#NP"), (12, "#SS"), (13, "#GP"), (14, "#PF"),
        (15, "#SPV"), (16, "#MF"), (17, "#AC"), (18, "#MC"), (19, "#XM"), (20, "#VE"),
    ];

    private static IEnumerable<TestCaseData> NamedVectors() => Named.Select(n => new TestCaseData(n.Vector, n.Name));

    [TestCaseSource(nameof(NamedVectors))]
    public void EveryVectorInXtfsTableHasItsShortName(int vector, string name) =>
        Assert.That(ExInfo.VectorName(vector), Is.EqualTo(name));

    /// <summary>x86_exc_short_name: vectors past #VE (20), including #CP (21), print as "??", without '#'.</summary>
    [TestCase(21)]
    [TestCase(22)]
    [TestCase(31)]
    [TestCase(0x20)]
    [TestCase(0x21)]
    [TestCase(255)]
    public void VectorsOutsideXtfsTableAreQuestionMarks(int vector) =>
        Assert.That(ExInfo.VectorName(vector), Is.EqualTo("??"));

    [Test]
    public void ZeroIsNothing() => Assert.That(ExInfo.None.ToString(), Is.EqualTo("nothing"));

    /// <summary>A vector outside X86_EXC_HAVE_EC with error code 0 prints its name alone.</summary>
    [TestCase(X86Vector.DE, "#DE")]
    [TestCase(X86Vector.DB, "#DB")]
    [TestCase(X86Vector.BP, "#BP")]
    [TestCase(X86Vector.UD, "#UD")]
    [TestCase(X86Vector.NM, "#NM")]
    [TestCase(X86Vector.MF, "#MF")]
    [TestCase(X86Vector.XM, "#XM")]
    [TestCase(X86Vector.CP, "??")]
    public void VectorsWithoutAnErrorCodePrintTheNameAlone(X86Vector vector, string text) =>
        Assert.That(ExInfo.Fault(vector).ToString(), Is.EqualTo(text));

    /// <summary>X86_EXC_HAVE_EC vectors print the error code even when it is 0: as four hex digits (the selector form needs ec != 0).</summary>
    [TestCase(X86Vector.DF, "#DF[0000]")]
    [TestCase(X86Vector.TS, "#TS[0000]")]
    [TestCase(X86Vector.NP, "#NP[0000]")]
    [TestCase(X86Vector.SS, "#SS[0000]")]
    [TestCase(X86Vector.GP, "#GP[0000]")]
    [TestCase(X86Vector.AC, "#AC[0000]")]
    public void VectorsWithAnErrorCodePrintZeroAsHex(X86Vector vector, string text) =>
        Assert.That(ExInfo.Fault(vector).ToString(), Is.EqualTo(text));

    /// <summary>A non-zero error code is printed for any vector; outside the selector and #PF forms, as %04x.</summary>
    [TestCase(X86Vector.UD, 1u, "#UD[0001]")]
    [TestCase(X86Vector.DF, 0xBEEFu, "#DF[beef]")]
    [TestCase(X86Vector.CP, 3u, "??[0003]")]
    [TestCase(0x21, 0x10u, "??[0010]")]
    public void NonZeroErrorCodesOfOtherVectorsPrintAsHex(int vector, uint ec, string text) =>
        Assert.That(ExInfo.Fault(vector, ec).ToString(), Is.EqualTo(text));

    /// <summary>
    /// Selector form for #TS, #NP, #SS, #GP, #AC: bit 1 (IDT) wins over bit 2 (TI); index = ec &gt;&gt; 3
    /// in decimal; bit 0 appends ",EXT". E.g. 0x1A = index 3, IDT; 0x0C = index 1, LDT; 0x09 = index 1, GDT, EXT.
    /// </summary>
    [TestCase(X86Vector.NP, 0x1Au, "#NP[IDT[3]]")]
    [TestCase(X86Vector.GP, 0x08u, "#GP[GDT[1]]")]
    [TestCase(X86Vector.GP, 0x0Cu, "#GP[LDT[1]]")]
    [TestCase(X86Vector.GP, 0x09u, "#GP[GDT[1],EXT]")]
    [TestCase(X86Vector.TS, 0x0Du, "#TS[LDT[1],EXT]")]
    [TestCase(X86Vector.SS, 0x1Bu, "#SS[IDT[3],EXT]")]
    [TestCase(X86Vector.AC, 0x10u, "#AC[GDT[2]]")]
    [TestCase(X86Vector.GP, 0x06u, "#GP[IDT[0]]")]
    [TestCase(X86Vector.GP, 0x01u, "#GP[GDT[0],EXT]")]
    [TestCase(X86Vector.GP, 0x0402u, "#GP[IDT[128]]")]
    public void SelectorErrorCodesNameTheTableAndIndex(X86Vector vector, uint ec, string text) =>
        Assert.That(ExInfo.Fault(vector, ec).ToString(), Is.EqualTo(text));

    /// <summary>SelectorErrorCode builds the SDM 6.13 layout that the selector form decodes.</summary>
    [Test]
    public void SelectorErrorCodeHelpersMatchTheSdmLayout() => Assert.Multiple(() =>
    {
        Assert.That(SelectorErrorCode.Idt(X86Vector.BP), Is.EqualTo(0x1A));
        Assert.That(SelectorErrorCode.Gdt(9, external: true), Is.EqualTo(0x49));
        Assert.That(SelectorErrorCode.Ldt(2), Is.EqualTo(0x14));
    });

    /// <summary>
    /// #PF: six characters from bit 5 down: K/-, I/d, R/-, U/s, W/r, P/- (SDM vol. 3, 4.7: PK, I/D,
    /// RSVD, U/S, W/R, P). Bits above 5 do not show.
    /// </summary>
    [TestCase(0x00u, "#PF[-d-sr-]")]
    [TestCase(0x01u, "#PF[-d-srP]")]
    [TestCase(0x03u, "#PF[-d-sWP]")]
    [TestCase(0x05u, "#PF[-d-UrP]")]
    [TestCase(0x07u, "#PF[-d-UWP]")]
    [TestCase(0x09u, "#PF[-dRsrP]")]
    [TestCase(0x11u, "#PF[-I-srP]")]
    [TestCase(0x15u, "#PF[-I-UrP]")]
    [TestCase(0x21u, "#PF[Kd-srP]")]
    [TestCase(0x3Fu, "#PF[KIRUWP]")]
    [TestCase(0x8000u, "#PF[-d-sr-]")]
    public void PageFaultErrorCodesAreSixLetters(uint ec, string text) =>
        Assert.That(ExInfo.Fault(X86Vector.PF, ec).ToString(), Is.EqualTo(text));

    /// <summary>The 16-byte buffer: texts longer than 15 characters are cut, as XTF prints them.</summary>
    [TestCase(X86Vector.GP, 0x0403u, "#GP[IDT[128],EX")]
    [TestCase(X86Vector.GP, 0xFFF9u, "#GP[GDT[8191],E")]
    [TestCase(X86Vector.NP, 0x7FFu, "#NP[IDT[255],EX")]
    [TestCase(X86Vector.GP, 0xFFF8u, "#GP[GDT[8191]]")]
    public void LongTextsAreCutToFifteenCharacters(X86Vector vector, uint ec, string text) =>
        Assert.That(ExInfo.Fault(vector, ec).ToString(), Is.EqualTo(text));

    /// <summary>EXINFO masks the vector to 8 bits and the error code to 16 (exinfo.h).</summary>
    [Test]
    public void FieldsAreMaskedAsXtfsMacroMasksThem() => Assert.Multiple(() =>
    {
        var e = ExInfo.Fault(0x10D, 0x12345);
        Assert.That(e.Raw, Is.EqualTo(0x800D2345u));
        Assert.That(e.Vector, Is.EqualTo(13));
        Assert.That(e.ErrorCode, Is.EqualTo(0x2345u));
    });
}
