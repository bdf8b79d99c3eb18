using NUnit.Framework;
using Xtf.Core.Testing.Conformance;

namespace Xtf.Tests.Conformance;

/// <summary>
/// Real-mode rules the 80286 sample showed we had wrong, as hand-written single-step tests run by
/// the conformance runner. Code sits at 1000:0100 (linear 10100h), SS = 2000h, DS = 3000h; the
/// final IP is one past the terminating HLT.
/// </summary>
[TestFixture]
public sealed class RealModeRuleTests
{
    private static void AssertPasses(RealModeCase c)
    {
        var outcome = new ConformanceRunner().Run(c.Build());
        Assert.That(outcome.Verdict, Is.EqualTo(ConformanceVerdict.Passed), outcome.Describe());
    }

    [Test(Description = "PUSHA with SP = 8 wraps within the 64 KiB stack segment (SDM PUSHA: only SP 7, 9, 11, 13, 15 fault)")]
    public void PushaWrapsWithinTheStackSegment()
    {
        // Eight word pushes from SP 8: AX at 6, CX at 4, DX at 2, BX at 0, then SP(8) at FFFE,
        // BP at FFFC, SI at FFFA, DI at FFF8. SS base 20000h.
        AssertPasses(new RealModeCase("pusha")
            .Init(MooRegister.SP, 8).Init(MooRegister.AX, 0x1111).Init(MooRegister.CX, 0x2222).Init(MooRegister.DX, 0x3333)
            .Init(MooRegister.BX, 0x4444).Init(MooRegister.BP, 0x5555).Init(MooRegister.SI, 0x6666).Init(MooRegister.DI, 0x7777)
            .Code(0x60)
            .Final(MooRegister.SP, 0xFFF8).Final(MooRegister.IP, 0x102)
            .FinalRam(0x20006, 0x11, 0x11).FinalRam(0x20004, 0x22, 0x22).FinalRam(0x20002, 0x33, 0x33).FinalRam(0x20000, 0x44, 0x44)
            .FinalRam(0x2FFFE, 0x08, 0x00).FinalRam(0x2FFFC, 0x55, 0x55).FinalRam(0x2FFFA, 0x66, 0x66).FinalRam(0x2FFF8, 0x77, 0x77));
    }

    [Test(Description = "BOUND within bounds does nothing; out of bounds raises #BR (vector 5) with IP of the BOUND (SDM BOUND)")]
    public void BoundRaisesBrOutsideTheBounds()
    {
        // bound ax,[0010h] with bounds -2..5 at DS:0010 (30010h).
        AssertPasses(new RealModeCase("bound ax,[0010h] in range")
            .Init(MooRegister.AX, 0xFFFE)
            .Code(0x62, 0x06, 0x10, 0x00).InitRam(0x30010, 0xFE, 0xFF, 0x05, 0x00)
            .Final(MooRegister.IP, 0x105));

        // AX = 6 > 5: #BR. IVT[5] at 14h = 0500:0040; FLAGS 0002, CS 1000, IP 0100 pushed below SP 100h.
        AssertPasses(new RealModeCase("bound ax,[0010h] above") { Exception = new MooException(5, 0x200FE) }
            .Init(MooRegister.AX, 6)
            .Code(0x62, 0x06, 0x10, 0x00).InitRam(0x30010, 0xFE, 0xFF, 0x05, 0x00).InitRam(0x14, 0x40, 0x00, 0x00, 0x05)
            .Final(MooRegister.CS, 0x0500).Final(MooRegister.IP, 0x41).Final(MooRegister.SP, 0xFA)
            .FinalRam(0x200FA, 0x00, 0x01, 0x00, 0x10, 0x02, 0x00));
    }

    [Test(Description = "WAIT with CR0.MP/TS clear and no x87 exception pending is a no-op (SDM WAIT)")]
    public void WaitIsANoOp() =>
        AssertPasses(new RealModeCase("wait").Code(0x9B).Final(MooRegister.IP, 0x102));

    [TestCase((ushort)0x0003, (ushort)0x12FF, TestName = "SALC with CF set: AL = FFh, flags unchanged")]
    [TestCase((ushort)0x0002, (ushort)0x1200, TestName = "SALC with CF clear: AL = 00h")]
    public void Salc(ushort flags, ushort ax) =>
        AssertPasses(new RealModeCase("salc").Init(MooRegister.Flags, flags).Init(MooRegister.AX, 0x1234)
            .Code(0xD6).Final(MooRegister.AX, ax).Final(MooRegister.IP, 0x102));

    // 80286 captures: OF after a multi-bit count is the 1-bit rule applied to the last step.
    // shl al,2 with AL = 60h: 60h -> C0h -> 80h; last step CF = 1 (bit 7 of C0h), MSB(80h) = 1: OF 0.
    [TestCase((byte)0xE0, (byte)0x60, (byte)2, (ushort)0x80, (ushort)0x0083, TestName = "SHL AL,2 60h -> 80h: CF 1, OF = MSB XOR CF = 0, SF")]
    // shl al,2 with AL = 20h: 20h -> 40h -> 80h; last step CF = 0, MSB = 1: OF 1.
    [TestCase((byte)0xE0, (byte)0x20, (byte)2, (ushort)0x80, (ushort)0x0882, TestName = "SHL AL,2 20h -> 80h: CF 0, OF = MSB XOR CF = 1, SF")]
    // shr al,2 with AL = 81h: 81h -> 40h -> 20h; the last step found 40h, MSB 0: OF 0; CF = bit 1 of 81h = 0.
    [TestCase((byte)0xE8, (byte)0x81, (byte)2, (ushort)0x20, (ushort)0x0002, TestName = "SHR AL,2 81h -> 20h: OF = MSB before the last step = 0")]
    // ror al,2 with AL = 01h: -> 40h; CF = MSB(40h) = 0; OF = MSB XOR MSB-1 = 0 XOR 1 = 1.
    [TestCase((byte)0xC8, (byte)0x01, (byte)2, (ushort)0x40, (ushort)0x0802, TestName = "ROR AL,2 01h -> 40h: CF 0, OF = MSB XOR MSB-1 = 1")]
    public void MultiBitShiftOverflow(byte modrm, byte al, byte count, ushort result, ushort flags)
    {
        // C0 /n ib; SHL/SHR set SF, ZF, PF from the result (80h: SF, PF clear as 80h has one bit set).
        // OF starts as the opposite of its expected value, so leaving it unchanged cannot pass.
        ushort initialFlags = (flags & 0x0800) != 0 ? (ushort)0x0002 : (ushort)0x0802;
        AssertPasses(new RealModeCase($"shift {modrm:x2}")
            .Init(MooRegister.AX, al).Init(MooRegister.Flags, initialFlags)
            .Code(0xC0, modrm, count)
            .Final(MooRegister.AX, result).Final(MooRegister.Flags, flags).Final(MooRegister.IP, 0x104));
    }
}
