using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// BT/BTS/BTR/BTC, BSF/BSR and the BCD adjustments DAA/DAS/AAA/AAS/AAM/AAD (SDM vol. 2). Only the
/// flags the SDM defines for each instruction are compared.
/// </summary>
[TestFixture]
public sealed class BitAndDecimalTests
{
    private const uint Bits = CpuHarness.DataBase + 0x100;

    private static CpuHarness Run(Action<Assembler> body, uint eflags = 0)
    {
        var h = new CpuHarness();
        var stop = h.Run(a =>
        {
            body(a);
            a.hlt();
        }, eflags: eflags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(h.Vector, Is.Null, "no exception");
        return h;
    }

    private static bool Cf(CpuHarness h) => (h.Cpu.Eflags & CF) != 0;

    [TestCase(TestName = "BT r32, imm8: CF = bit 2 of 0b100 = 1; ZF is unaffected")]
    public void BtCopiesTheBitIntoCf()
    {
        var h = Run(a =>
        {
            a.mov(eax, 4u);
            a.bt(eax, 2);
        }, ZF);
        Assert.Multiple(() =>
        {
            Assert.That(Cf(h), Is.True);
            Assert.That(h.Cpu.Eflags & ZF, Is.EqualTo(ZF));
        });
    }

    [TestCase(TestName = "BT r32, imm8: the immediate offset is taken modulo 32, so 34 selects bit 2")]
    public void BtImmediateOffsetIsModuloOperandSize()
    {
        var h = Run(a =>
        {
            a.mov(eax, 4u);
            a.bt(eax, 34);
        });
        Assert.That(Cf(h), Is.True);
    }

    [TestCase(TestName = "BTS r32, r32 with a register bit base: the offset 33 is taken modulo 32 (bit 1)")]
    public void BtsRegisterBaseOffsetIsModuloOperandSize()
    {
        var h = Run(a =>
        {
            a.xor(eax, eax);
            a.mov(ecx, 33u);
            a.bts(eax, ecx);
        }, CF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(2u));
            Assert.That(Cf(h), Is.False, "CF = old bit");
        });
    }

    [TestCase(TestName = "BTS m32, r32: offset 35 addresses the dword at EA + 4 * (35 DIV 32), bit 35 MOD 32 = 3")]
    public void BtsMemoryBitStringBeyondTheOperand()
    {
        var h = Run(a =>
        {
            a.mov(ecx, 35u);
            a.bts(__dword_ptr[Bits], ecx);
        }, CF);
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Bits), Is.EqualTo(0u), "the addressed dword is untouched");
            Assert.That(h.ReadU32(Bits + 4), Is.EqualTo(8u), "bit 3 of the next dword set");
            Assert.That(Cf(h), Is.False, "CF = old bit (0)");
        });
    }

    [TestCase(TestName = "BTR m32, r32: a negative offset -1 addresses the dword at EA - 4, bit 31")]
    public void BtrMemoryNegativeOffset()
    {
        var h = new CpuHarness();
        h.WriteU32(Bits - 4, 0x80000001u);
        h.Run(a =>
        {
            a.mov(ecx, -1);
            a.btr(__dword_ptr[Bits], ecx);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Bits - 4), Is.EqualTo(0x00000001u));
            Assert.That(Cf(h), Is.True, "CF = old bit 31");
        });
    }

    [TestCase(TestName = "BTC m16, r16: offset -17 addresses the word at EA + 2 * floor(-17 / 16) = EA - 4, bit 15")]
    public void BtcMemoryWordNegativeOffset()
    {
        var h = Run(a =>
        {
            a.mov(cx, -17);
            a.btc(__word_ptr[Bits], cx);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Bits - 4) & 0xFFFF, Is.EqualTo(0x8000u));
            Assert.That(h.ReadU32(Bits), Is.EqualTo(0u));
            Assert.That(Cf(h), Is.False);
        });
    }

    [TestCase(TestName = "BTS m32, imm8: an immediate offset into memory is taken modulo 32 (no address adjustment)")]
    public void BtsMemoryImmediateOffsetIsModuloOperandSize()
    {
        var h = Run(a => a.bts(__dword_ptr[Bits], 33));
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Bits), Is.EqualTo(2u));
            Assert.That(h.ReadU32(Bits + 4), Is.EqualTo(0u));
        });
    }

    [TestCase(true, 0x00008000u, 15u, TestName = "BSF: lowest set bit of 0x8000 is 15, ZF cleared")]
    [TestCase(true, 0x80000100u, 8u, TestName = "BSF: lowest set bit of 0x80000100 is 8")]
    [TestCase(false, 0x00008001u, 15u, TestName = "BSR: highest set bit of 0x8001 is 15, ZF cleared")]
    [TestCase(false, 0x80000000u, 31u, TestName = "BSR: highest set bit of 0x80000000 is 31")]
    public void BitScan(bool forward, uint source, uint expected)
    {
        var h = Run(a =>
        {
            a.mov(ebx, source);
            if (forward)
                a.bsf(eax, ebx);
            else
                a.bsr(eax, ebx);
        }, ZF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(expected));
            Assert.That(h.Cpu.Eflags & ZF, Is.EqualTo(0u));
        });
    }

    [TestCase(true, TestName = "BSF with a zero source sets ZF and leaves the destination unchanged")]
    [TestCase(false, TestName = "BSR with a zero source sets ZF and leaves the destination unchanged")]
    public void BitScanOfZero(bool forward)
    {
        var h = Run(a =>
        {
            a.mov(eax, 0x12345678u);
            a.xor(ebx, ebx); // ZF = 1 here too; clear it again so BSx must set it
            a.mov(ecx, 1u);
            a.test(ecx, ecx);
            if (forward)
                a.bsf(eax, ebx);
            else
                a.bsr(eax, ebx);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x12345678u));
            Assert.That(h.Cpu.Eflags & ZF, Is.EqualTo(ZF));
        });
    }

    private const uint Szapc = SF | ZF | AF | PF | CF;

    [TestCase(TestName = "DAA (SDM example): 0x79 + 0x35 = 0xAE, DAA gives 0x14 with CF, AF, PF (decimal 79 + 35 = 114)")]
    public void DaaAfterAdd()
    {
        var h = Run(a =>
        {
            a.mov(al, 0x79);
            a.mov(bl, 0x35);
            a.add(al, bl);
            a.daa();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax & 0xFF, Is.EqualTo(0x14u));
            Assert.That(ArithmeticFlagsTests.FlagNames(h.Cpu.Eflags & Szapc), Is.EqualTo("CF PF AF"));
        });
    }

    [TestCase(TestName = "DAA: AL 0x9A (AF 0, CF 0): low nibble > 9 adds 6 (AF), AL > 0x99 adds 0x60 (CF): AL = 0, ZF, PF")]
    public void DaaOfNonDecimal()
    {
        var h = Run(a =>
        {
            a.mov(al, 0x9A);
            a.daa();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax & 0xFF, Is.EqualTo(0u));
            Assert.That(ArithmeticFlagsTests.FlagNames(h.Cpu.Eflags & Szapc), Is.EqualTo("CF PF AF ZF"));
        });
    }

    [TestCase(TestName = "DAS (SDM example): 0x35 - 0x47 = 0xEE, DAS gives 0x88 with SF, AF, PF, CF (35 - 47 = -12 = 88 borrow 1)")]
    public void DasAfterSub()
    {
        var h = Run(a =>
        {
            a.mov(al, 0x35);
            a.mov(bl, 0x47);
            a.sub(al, bl);
            a.das();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax & 0xFF, Is.EqualTo(0x88u));
            Assert.That(ArithmeticFlagsTests.FlagNames(h.Cpu.Eflags & Szapc), Is.EqualTo("CF PF AF SF"));
        });
    }

    [TestCase(TestName = "AAA: '5' + '6' = 0x6B; AAA adds 0x106 to AX and masks AL: AX = 0x0101, AF = CF = 1")]
    public void AaaAfterAsciiAdd()
    {
        var h = Run(a =>
        {
            a.mov(eax, 0x35u);
            a.add(al, 0x36);
            a.aaa();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x0101u));
            Assert.That(h.Cpu.Eflags & (AF | CF), Is.EqualTo(AF | CF));
        });
    }

    [TestCase(TestName = "AAA: AL 0x34 with AF 0: no adjustment, AL masked to its low nibble, AF = CF = 0 (CF was 1)")]
    public void AaaWithoutAdjustment()
    {
        var h = Run(a =>
        {
            a.mov(eax, 0x0234u);
            a.aaa();
        }, CF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x0204u));
            Assert.That(h.Cpu.Eflags & (AF | CF), Is.EqualTo(0u));
        });
    }

    [TestCase(TestName = "AAS: '2' - '5' = 0xFD with AF; AAS: AX - 6, AH - 1, AL masked: AX = 0xFF07, AF = CF = 1")]
    public void AasAfterAsciiSubtract()
    {
        var h = Run(a =>
        {
            a.mov(eax, 0x32u);
            a.sub(al, 0x35);
            a.aas();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xFF07u));
            Assert.That(h.Cpu.Eflags & (AF | CF), Is.EqualTo(AF | CF));
        });
    }

    [TestCase(0x3Fu, (byte)10, 0x0603u, PF, TestName = "AAM: AL 63 -> AH 6, AL 3; PF from AL (two 1 bits)")]
    [TestCase(0xFFu, (byte)16, 0x0F0Fu, PF, TestName = "AAM 16: AL 0xFF -> AH 15, AL 15 (base 16)")]
    [TestCase(0x00u, (byte)10, 0x0000u, ZF | PF, TestName = "AAM: AL 0 -> AX 0 with ZF and PF")]
    public void Aam(uint al8, byte imm, uint expectedAx, uint expectedFlags)
    {
        var h = Run(a =>
        {
            a.mov(eax, al8);
            a.aam(imm);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(expectedAx));
            Assert.That(h.Cpu.Eflags & (SF | ZF | PF), Is.EqualTo(expectedFlags));
        });
    }

    [TestCase(0x0603u, (byte)10, 0x003Fu, PF, TestName = "AAD: AH 6, AL 3 -> AL 63 (0x3F), AH 0; PF (six 1 bits)")]
    [TestCase(0x1F0Fu, (byte)10, 0x0045u, 0u, TestName = "AAD: AL = (15 + 31 * 10) AND 0xFF = 325 AND 0xFF = 0x45, AH 0")]
    public void Aad(uint ax16, byte imm, uint expectedAx, uint expectedFlags)
    {
        var h = Run(a =>
        {
            a.mov(eax, ax16);
            a.aad(imm);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(expectedAx));
            Assert.That(h.Cpu.Eflags & (SF | ZF | PF), Is.EqualTo(expectedFlags));
        });
    }

    [TestCase(0x7FE0u, false, TestName = "BT m32, r32 in a 4 KiB segment: offset 0x7FE0 addresses the dword at 0xFFC, within the limit")]
    [TestCase(0x8000u, true, TestName = "BT m32, r32 in a 4 KiB segment: offset 0x8000 addresses the dword at 0x1000, beyond the limit: #GP(0)")]
    public void BitStringLimitIsCheckedAtTheAddressedDword(uint bitOffset, bool faults)
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(ax, CpuHarness.SmallData); // limit 0xFFF
            a.mov(ds, ax);
            a.mov(ecx, bitOffset);
            a.bt(__dword_ptr[0], ecx);
            a.hlt();
        });
        Assert.That(h.Vector, faults ? Is.EqualTo((int)X86Vector.GP) : Is.Null);
    }

    [TestCase(new byte[] { 0xF3, 0x0F, 0xBC, 0xC3 }, 4u, TestName = "F3 0F BC is TZCNT on a processor enumerating BMI1 (CPUID.(7,0):EBX[3]): EAX = 4 for EBX 0x30")]
    [TestCase(new byte[] { 0xF3, 0x0F, 0xBD, 0xC3 }, 26u, TestName = "F3 0F BD is LZCNT on a processor enumerating LZCNT (CPUID.80000001H:ECX[5]): EAX = 26 for EBX 0x30, not BSR's 5")]
    public void RepBitScanIsZeroCountWithBmi(byte[] bytes, uint expected)
    {
        var h = Run(a =>
        {
            a.mov(ebx, 0x30u);
            a.db(bytes); // eax <- ebx
        });
        Assert.That(h.Cpu.Eax, Is.EqualTo(expected));
    }

    [TestCase(TestName = "SDM TZCNT: F3 0F BC with a zero source writes the operand size (32) and sets CF, where BSF would set ZF and keep the destination")]
    public void TzcntOfZeroIsTheOperandSize()
    {
        var h = Run(a =>
        {
            a.mov(eax, 0x1234u);
            a.xor(ebx, ebx);
            a.db(0xF3, 0x0F, 0xBC, 0xC3);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(32u));
            Assert.That(h.Cpu.Eflags & (CF | ZF), Is.EqualTo(CF));
        });
    }
}
