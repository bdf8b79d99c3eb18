using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// SSE/SSE2 floating-point instructions as the processor executes them: MXCSR flags, #XM (or #UD
/// with CR4.OSXMMEXCPT clear) for unmasked exceptions with the destination unchanged (SDM vol. 1,
/// 11.5.1 and 11.5.3; vol. 3, 6.15 interrupt 19), EFLAGS of COMISS/UCOMISS, alignment of packed
/// memory operands (vol. 2, 2.4, exception types 1, 2 and 4), and the XMM data movement forms.
/// The kernel sets CR4.OSFXSR (and OSXMMEXCPT), loads MXCSR with LDMXCSR and XMM0/XMM1 from
/// memory, then runs the probe at CPL 0; a fault halts in its handler with the frame on the stack.
/// </summary>
[TestFixture]
public sealed class SseInstructionTests
{
    private const uint Data = CpuHarness.DataBase;
    private const uint Xmm0Image = Data + 0x100, Xmm1Image = Data + 0x110, MxcsrImage = Data + 0x1F0;

    /// <summary>All exceptions masked (the power-up MXCSR, vol. 3, table 9-1).</summary>
    private const uint Masked = 0x1F80;

    /// <summary>OF, SF and AF set (with the fixed bit 1): COMISS/UCOMISS must clear them.</summary>
    private const uint PresetFlags = RFlags.OF | RFlags.SF | RFlags.AF | RFlags.Reserved1;

    private const uint StatusFlags = RFlags.OF | RFlags.SF | RFlags.ZF | RFlags.AF | RFlags.PF | RFlags.CF;

    private static readonly uint One = 0x3F800000, Three = 0x40400000, QNaN = 0x7FC00000;

    /// <summary>Runs <paramref name="probe"/> with MXCSR = <paramref name="mxcsr"/>, XMM0 and XMM1 loaded with the lanes (bits 31:0 first) of <paramref name="first"/> and <paramref name="second"/>.</summary>
    private static CpuHarness Run(uint mxcsr, uint[] first, uint[] second, Action<Assembler> probe, out uint at, bool osxmmexcpt = true)
    {
        var h = new CpuHarness();
        for (int n = 0; n < 4; n++)
        {
            h.WriteU32(Xmm0Image + (uint)(4 * n), first[n]);
            h.WriteU32(Xmm1Image + (uint)(4 * n), second[n]);
        }

        h.WriteU32(MxcsrImage, mxcsr);
        var label = default(Label);
        h.Run(a =>
        {
            label = a.CreateLabel();
            a.mov(eax, cr4);
            a.or(eax, (uint)(Cr4.OSFXSR | (osxmmexcpt ? Cr4.OSXMMEXCPT : 0)));
            a.mov(cr4, eax);
            a.ldmxcsr(__dword_ptr[MxcsrImage]);
            a.movups(xmm0, __xmmword_ptr[Xmm0Image]);
            a.movups(xmm1, __xmmword_ptr[Xmm1Image]);
            a.push(PresetFlags);
            a.popfd();
            a.Label(ref label);
            probe(a);
            a.@int(CpuHarness.ExitVector);
        });
        at = h.AddressOf(label);
        return h;
    }

    private static uint[] Lanes(X86Cpu.XmmRegister x) => [(uint)x.Low, (uint)(x.Low >> 32), (uint)x.High, (uint)(x.High >> 32)];

    [Test(Description = "XTF xsa-451: DIVSS 0/0 with MXCSR = 0 is IE (vol. 1, 4.9.1.2), unmasked: #XM at the DIVSS, MXCSR.IE alone, XMM0 unchanged")]
    public void UnmaskedInvalidIsXmAndLeavesTheDestination()
    {
        uint[] dividend = [0, One, Three, 0x12345678];
        var h = Run(0, dividend, [0, 0, 0, 0], a => a.divss(xmm0, xmm1), out uint at);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.XM));
            Assert.That(h.Frame(0), Is.EqualTo(at), "#XM is a fault: EIP of the DIVSS");
            Assert.That(h.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x01u), "IE only (0/0 is not ZE)");
            Assert.That(Lanes(h.Cpu.Xmm[0]), Is.EqualTo(dividend), "destination unchanged");
        });
    }

    [Test(Description = "Vol. 1, 11.5.2.1: masked, 0/0 gives the QNaN indefinite FFC00000H in lane 0 and sets IE; DIVSS keeps lanes 1-3")]
    public void MaskedInvalidGivesTheIndefinite()
    {
        var h = Run(Masked, [0, One, Three, 4], [0, 0, 0, 0], a => a.divss(xmm0, xmm1), out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(Lanes(h.Cpu.Xmm[0]), Is.EqualTo(new uint[] { 0xFFC00000, One, Three, 4 }));
            Assert.That(h.Cpu.Mxcsr, Is.EqualTo(Masked | 0x01));
        });
    }

    [Test(Description = "Vol. 3, 6.15 and 13.1.6: with CR4.OSXMMEXCPT clear an unmasked SIMD exception is #UD; the flag is still set")]
    public void UnmaskedExceptionWithoutOsxmmexcptIsUd()
    {
        var h = Run(0, [0, 0, 0, 0], [0, 0, 0, 0], a => a.divss(xmm0, xmm1), out uint at, osxmmexcpt: false);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(at));
            Assert.That(h.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x01u));
        });
    }

    [Test(Description = "XTF xsa-470: UCOMISS of the denormal 00000001H with MXCSR = 0 is DE alone (vol. 2, UCOMISS), #XM before EFLAGS change")]
    public void UcomissDenormalIsDe()
    {
        var h = Run(0, [0, 0, 0, 0], [0, 0, 0, 0], a =>
        {
            a.mov(eax, 1);
            a.movd(xmm0, eax);
            a.ucomiss(xmm0, xmm0);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.XM));
            Assert.That(h.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x02u), "DE only");
            Assert.That(h.Frame(2) & StatusFlags, Is.EqualTo(PresetFlags & StatusFlags), "EFLAGS untouched");
        });

        h = Run(Masked, [1, 0, 0, 0], [0, 0, 0, 0], a => a.ucomiss(xmm0, xmm0), out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Mxcsr, Is.EqualTo(Masked | 0x02), "masked: DE set");
            Assert.That(h.Cpu.Eflags & StatusFlags, Is.EqualTo(RFlags.ZF), "equal: ZF; PF, CF, OF, SF, AF clear");
        });
    }

    [TestCase(false, Masked, 0u)]
    [TestCase(true, Masked, 0x01u)]
    [TestCase(false, Masked & ~0x80u, 0u)]
    public void ComissAndUcomissOnAQNaN(bool signaling, uint mxcsr, uint flags)
    {
        // Vol. 2, COMISS/UCOMISS: unordered is ZF = PF = CF = 1, OF = SF = AF = 0. COMISS raises IE
        // for a QNaN, UCOMISS does not (so unmasking IM changes nothing for it).
        var h = Run(mxcsr, [QNaN, 0, 0, 0], [One, 0, 0, 0], a =>
        {
            if (signaling)
                a.comiss(xmm0, xmm1);
            else
                a.ucomiss(xmm0, xmm1);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Eflags & StatusFlags, Is.EqualTo(RFlags.ZF | RFlags.PF | RFlags.CF));
            Assert.That(h.Cpu.Mxcsr & 0x3F, Is.EqualTo(flags));
        });
    }

    [Test(Description = "Vol. 2, COMISS: IE unmasked, a QNaN operand faults with #XM and leaves EFLAGS")]
    public void ComissQNaNUnmaskedFaults()
    {
        var h = Run(Masked & ~0x80u, [QNaN, 0, 0, 0], [One, 0, 0, 0], a => a.comiss(xmm0, xmm1), out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.XM));
            Assert.That(h.Frame(2) & StatusFlags, Is.EqualTo(PresetFlags & StatusFlags));
        });
    }

    [TestCase(0x3F800000u, 0x40400000u, RFlags.CF)]   // 1 < 3: CF
    [TestCase(0x40400000u, 0x3F800000u, 0u)]          // 3 > 1: none
    [TestCase(0x80000000u, 0x00000000u, RFlags.ZF)]   // -0 = +0: ZF
    public void ComissOrderedResults(uint a, uint b, uint expected)
    {
        // Vol. 2, COMISS: greater clears ZF, PF, CF; less sets CF; equal sets ZF.
        var h = Run(Masked, [a, 0, 0, 0], [b, 0, 0, 0], asm => asm.comiss(xmm0, xmm1), out _);
        Assert.That(h.Cpu.Eflags & StatusFlags, Is.EqualTo(expected));
    }

    [Test(Description = "Vol. 1, 11.5.3: an unmasked pre-computation exception in one lane (DE in lane 1) suppresses every result and the post-computation flags of the others (PE of 1/3 in lane 0)")]
    public void PreComputationExceptionWinsAcrossLanes()
    {
        uint[] dividend = [One, 1, One, One];
        var h = Run(Masked & ~0x100u, dividend, [Three, Three, One, One], a => a.divps(xmm0, xmm1), out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.XM));
            Assert.That(h.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x02u), "DE alone: PE of lane 0 not reported");
            Assert.That(Lanes(h.Cpu.Xmm[0]), Is.EqualTo(dividend));
        });

        h = Run(Masked, dividend, [Three, Three, One, One], a => a.divps(xmm0, xmm1), out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x32u), "masked: DE, and UE with PE (2^-149 / 3 rounds to +0)");
            Assert.That(Lanes(h.Cpu.Xmm[0]), Is.EqualTo(new uint[] { 0x3EAAAAAB, 0, One, One }), "1/3 rounded to nearest; +0");
        });
    }

    [Test(Description = "Vol. 1, 11.5.2.6: an unmasked inexact result is #XM with PE set and the destination unchanged")]
    public void UnmaskedPrecisionIsXm()
    {
        var h = Run(Masked & ~0x1000u, [One, 5, 6, 7], [Three, 0, 0, 0], a => a.divss(xmm0, xmm1), out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.XM));
            Assert.That(h.Cpu.Mxcsr & 0x3F, Is.EqualTo(0x20u));
            Assert.That(Lanes(h.Cpu.Xmm[0]), Is.EqualTo(new uint[] { One, 5, 6, 7 }));
        });
    }

    [Test(Description = "Vol. 2, 2.4, exception type 2: a packed operand in memory not 16-byte aligned is #GP(0); the scalar form (type 3) is not checked; type 4 logic too")]
    public void PackedMemoryOperandsMustBeAligned()
    {
        var h = Run(Masked, [0, 0, 0, 0], [0, 0, 0, 0], a => a.addps(xmm0, __xmmword_ptr[Data + 8]), out uint at);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.Zero, "error code 0");
            Assert.That(h.Frame(1), Is.EqualTo(at));
        });
        h = Run(Masked, [0, 0, 0, 0], [0, 0, 0, 0], a => a.xorps(xmm0, __xmmword_ptr[Data + 4]), out _);
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP), "XORPS m128");
        h = Run(Masked, [0, 0, 0, 0], [0, 0, 0, 0], a =>
        {
            a.addss(xmm0, __dword_ptr[Data + 8]);
            a.addps(xmm0, __xmmword_ptr[Data + 16]);
        }, out _);
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
    }

    [Test(Description = "Vol. 2, 2.4 tables: a LOCK prefix on an SSE instruction is #UD")]
    public void LockPrefixIsUd()
    {
        var h = Run(Masked, [0, 0, 0, 0], [0, 0, 0, 0], a => a.db(0xF0, 0x0F, 0x58, 0xC1), out uint at); // lock addps xmm0, xmm1
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(at));
        });
    }

    [Test(Description = "ADDPS, SUBSS, MULPD, SQRTSD, MAXPS and CMPSD compute on the right lanes; scalar forms keep the upper lanes")]
    public void LanesOfPackedAndScalarForms()
    {
        var h = Run(Masked, [One, Three, 0x40000000, 0xBF800000], [One, One, One, One], a =>
        {
            a.movaps(xmm2, xmm0);
            a.addps(xmm2, xmm1);           // [2, 4, 3, 0]
            a.movaps(xmm3, xmm0);
            a.subss(xmm3, xmm1);           // [0, 3, 2, -1]
            a.movaps(xmm4, xmm0);
            a.maxps(xmm4, xmm1);           // [1, 3, 2, 1]
            a.movaps(xmm5, xmm0);
            a.cmpps(xmm5, xmm1, 1);        // LT: [0, 0, 0, ~0]
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(Lanes(h.Cpu.Xmm[2]), Is.EqualTo(new uint[] { 0x40000000, 0x40800000, 0x40400000, 0 }));
            Assert.That(Lanes(h.Cpu.Xmm[3]), Is.EqualTo(new uint[] { 0, Three, 0x40000000, 0xBF800000 }));
            Assert.That(Lanes(h.Cpu.Xmm[4]), Is.EqualTo(new uint[] { One, Three, 0x40000000, One }));
            Assert.That(Lanes(h.Cpu.Xmm[5]), Is.EqualTo(new uint[] { 0, 0, 0, 0xFFFFFFFF }));
            Assert.That(h.Cpu.Mxcsr, Is.EqualTo(Masked), "all exact");
        });

        // Doubles 2.0 (4000000000000000H) and 4.0 in XMM0, 9.0 (4022000000000000H) in XMM1's low lane.
        h = Run(Masked, [0, 0x40000000, 0, 0x40100000], [0, 0x40220000, 0, 0x40220000], a =>
        {
            a.movapd(xmm2, xmm0);
            a.mulpd(xmm2, xmm0);           // [4, 16]
            a.movapd(xmm3, xmm0);
            a.sqrtsd(xmm3, xmm1);          // [3, 4]
            a.movapd(xmm4, xmm0);
            a.cmpsd(xmm4, xmm1, 1);        // 2 < 9: [~0, 4]
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Xmm[2].Low, Is.EqualTo(0x4010000000000000ul));
            Assert.That(h.Cpu.Xmm[2].High, Is.EqualTo(0x4030000000000000ul));
            Assert.That(h.Cpu.Xmm[3].Low, Is.EqualTo(0x4008000000000000ul));
            Assert.That(h.Cpu.Xmm[3].High, Is.EqualTo(0x4010000000000000ul), "SQRTSD keeps the upper lane of the destination");
            Assert.That(h.Cpu.Xmm[4].Low, Is.EqualTo(ulong.MaxValue));
            Assert.That(h.Cpu.Xmm[4].High, Is.EqualTo(0x4010000000000000ul));
        });
    }

    [Test(Description = "ANDPS, ANDNPS, ORPS, XORPS (and PD) are bitwise on 128 bits; XORPS xmm, xmm zeroes it (XTF xsa-451's first instruction)")]
    public void LogicForms()
    {
        var h = Run(Masked, [0xFF00FF00, 0x0F0F0F0F, 0xFFFFFFFF, 0], [0x0FF00FF0, 0xFFFF0000, 0x12345678, 0xFFFFFFFF], a =>
        {
            a.movaps(xmm2, xmm0);
            a.andps(xmm2, xmm1);
            a.movaps(xmm3, xmm0);
            a.andnpd(xmm3, xmm1);
            a.movaps(xmm4, xmm0);
            a.orps(xmm4, xmm1);
            a.xorps(xmm0, xmm0);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(Lanes(h.Cpu.Xmm[2]), Is.EqualTo(new uint[] { 0x0F000F00, 0x0F0F0000, 0x12345678, 0 }));
            Assert.That(Lanes(h.Cpu.Xmm[3]), Is.EqualTo(new uint[] { 0x00F000F0, 0xF0F00000, 0, 0xFFFFFFFF }));
            Assert.That(Lanes(h.Cpu.Xmm[4]), Is.EqualTo(new uint[] { 0xFFF0FFF0, 0xFFFF0F0F, 0xFFFFFFFF, 0xFFFFFFFF }));
            Assert.That(Lanes(h.Cpu.Xmm[0]), Is.EqualTo(new uint[] { 0, 0, 0, 0 }));
        });
    }

    [Test(Description = "Vol. 2, MOVD/MOVQ, MOVSS, MOVSD: loads from memory and general registers zero the rest of the register, register-to-register MOVSS/MOVSD merge, stores write the low lane")]
    public void ScalarMoves()
    {

        var h = Run(Masked, [1, 2, 3, 4], [5, 6, 7, 8], a =>
        {
            a.mov(__dword_ptr[Data], 0xAAAAAAAAu);
            a.mov(__dword_ptr[Data + 4], 0xBBBBBBBBu);
            a.movaps(xmm2, xmm0);
            a.movss(xmm2, xmm1);                       // [5, 2, 3, 4]
            a.movaps(xmm3, xmm0);
            a.movss(xmm3, __dword_ptr[Data]);          // [AA, 0, 0, 0]
            a.movaps(xmm4, xmm0);
            a.movsd(xmm4, xmm1);                       // [5, 6, 3, 4]
            a.movaps(xmm5, xmm0);
            a.movsd(xmm5, __qword_ptr[Data]);          // [AA, BB, 0, 0]
            a.movaps(xmm6, xmm0);
            a.mov(ecx, 0xCCCCCCCCu);
            a.movd(xmm6, ecx);                         // [CC, 0, 0, 0]
            a.movaps(xmm7, xmm0);
            a.movq(xmm7, __qword_ptr[Data]);           // F3 0F 7E: [AA, BB, 0, 0]
            a.movd(edx, xmm1);                         // 5
            a.movss(__dword_ptr[Data + 0x20], xmm1);
            a.movsd(__qword_ptr[Data + 0x28], xmm1);
            a.movq(__qword_ptr[Data + 0x30], xmm0);    // 66 0F D6
            a.movd(__dword_ptr[Data + 0x38], xmm0);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(Lanes(h.Cpu.Xmm[2]), Is.EqualTo(new uint[] { 5, 2, 3, 4 }), "MOVSS xmm, xmm");
            Assert.That(Lanes(h.Cpu.Xmm[3]), Is.EqualTo(new uint[] { 0xAAAAAAAA, 0, 0, 0 }), "MOVSS xmm, m32");
            Assert.That(Lanes(h.Cpu.Xmm[4]), Is.EqualTo(new uint[] { 5, 6, 3, 4 }), "MOVSD xmm, xmm");
            Assert.That(Lanes(h.Cpu.Xmm[5]), Is.EqualTo(new uint[] { 0xAAAAAAAA, 0xBBBBBBBB, 0, 0 }), "MOVSD xmm, m64");
            Assert.That(Lanes(h.Cpu.Xmm[6]), Is.EqualTo(new uint[] { 0xCCCCCCCC, 0, 0, 0 }), "MOVD xmm, r32");
            Assert.That(Lanes(h.Cpu.Xmm[7]), Is.EqualTo(new uint[] { 0xAAAAAAAA, 0xBBBBBBBB, 0, 0 }), "MOVQ xmm, m64");
            Assert.That(h.Cpu.Edx, Is.EqualTo(5u), "MOVD r32, xmm");
            Assert.That(h.ReadU32(Data + 0x20), Is.EqualTo(5u));
            Assert.That(h.ReadU32(Data + 0x24), Is.Zero, "MOVSS m32 stores 4 bytes");
            Assert.That(h.ReadU32(Data + 0x2C), Is.EqualTo(6u), "MOVSD m64");
            Assert.That(h.ReadU32(Data + 0x34), Is.EqualTo(2u), "MOVQ m64");
            Assert.That(h.ReadU32(Data + 0x38), Is.EqualTo(1u), "MOVD m32");
            Assert.That(h.ReadU32(Data + 0x3C), Is.Zero);
        });
    }

    [Test(Description = "Vol. 2, MOVAPD/MOVDQA (type 1) need 16-byte alignment, MOVUPD/MOVDQU (type 4, explicitly unaligned) do not; MOVQ xmm, xmm (66 0F D6 register form) zeroes bits 127:64")]
    public void PackedMovesAndAlignment()
    {
        var h = Run(Masked, [1, 2, 3, 4], [0, 0, 0, 0], a =>
        {
            a.movdqu(__xmmword_ptr[Data + 4], xmm0);
            a.movupd(xmm1, __xmmword_ptr[Data + 4]);
            a.movdqa(xmm2, xmm1);
            a.movapd(__xmmword_ptr[Data + 0x40], xmm2);
            a.movdqa(xmm3, __xmmword_ptr[Data + 0x40]);
            a.db(0x66, 0x0F, 0xD6, 0xDC);               // movq xmm4, xmm3 (66 0F D6 /r, register form)
            a.movapd(xmm5, __xmmword_ptr[Data + 4]);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP), "the misaligned MOVAPD");
            Assert.That(Lanes(h.Cpu.Xmm[3]), Is.EqualTo(new uint[] { 1, 2, 3, 4 }));
            Assert.That(Lanes(h.Cpu.Xmm[4]), Is.EqualTo(new uint[] { 1, 2, 0, 0 }));
        });
    }
    [Test(Description = "Vol. 2, MOVD/MOVQ in 64-bit mode: REX.W 66 0F 6E/7E move 64 bits between r64 and XMM (XMM8-15 with REX.R), MOVD to r32 zero-extends into r64")]
    public void MovqBetweenR64AndXmmInLongMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rax, cr4);
            a.or(rax, (int)Cr4.OSFXSR);
            a.mov(cr4, rax);
            a.mov(rax, 0x1122334455667788);
            a.movq(xmm9, rax);
            a.movq(rbx, xmm9);
            a.mov(rcx, -1L);
            a.movd(ecx, xmm9);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Xmm[9].Low, Is.EqualTo(0x1122334455667788ul));
            Assert.That(h.Cpu.Xmm[9].High, Is.Zero);
            Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo(0x1122334455667788ul));
            Assert.That(h.Cpu[X86Cpu.RCX], Is.EqualTo(0x55667788ul), "a 32-bit destination zero-extends (vol. 1, 3.4.1.1)");
        });
    }
}
