using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// POPCNT, LZCNT, TZCNT and BMI1 (ANDN, BEXTR, BLSI, BLSMSK, BLSR) in 64-bit mode, with the
/// results and flags of each instruction's operation section in SDM vol. 2; the CPUID bits that
/// advertise them (CPUID.1:ECX[23], CPUID.80000001H:ECX[5], CPUID.(7,0):EBX[3]).
/// </summary>
public sealed class BitManipulationTests
{
    private const uint Arith = RFlags.CF | RFlags.PF | RFlags.AF | RFlags.ZF | RFlags.SF | RFlags.OF;

    /// <summary>Runs <paramref name="insn"/> with RBX = <paramref name="b"/>, RCX = <paramref name="c"/> and every status flag set first; returns RAX and the status flags after.</summary>
    private static (ulong Rax, uint Flags) Run(Action<Assembler> insn, ulong b, ulong c = 0)
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rax, 0x5A5A_5A5A_5A5A_5A5Aul);
            a.mov(rbx, b);
            a.mov(rcx, c);
            a.push((int)(Arith | RFlags.Reserved1));
            a.popfq();
            insn(a);
            a.pushfq();
            a.pop(rdx);
            a.hlt();
        });
        return (h.Cpu[X86Cpu.RAX], (uint)h.Cpu[X86Cpu.RDX] & Arith);
    }

    [TestCase(0xF0F0ul, 8ul, 0u, TestName = "SDM POPCNT: 8 bits set, ZF = 0, OF SF AF CF PF cleared")]
    [TestCase(0ul, 0ul, RFlags.ZF, TestName = "SDM POPCNT: a zero source gives 0 and ZF = 1, the rest cleared")]
    public void Popcnt(ulong src, ulong expected, uint flags)
    {
        var (result, f) = Run(a => a.popcnt(rax, rbx), src);
        Assert.That((result, f), Is.EqualTo((expected, flags)));
    }

    [TestCase(0x0001_0000ul, 15ul, 0u, TestName = "SDM LZCNT: 32-bit, bit 16 the highest set: 15, CF = ZF = 0")]
    [TestCase(0ul, 32ul, RFlags.CF, TestName = "SDM LZCNT: a zero 32-bit source gives 32 and CF = 1")]
    [TestCase(0x8000_0000ul, 0ul, RFlags.ZF, TestName = "SDM LZCNT: bit 31 set gives 0 and ZF = 1")]
    public void Lzcnt32(ulong src, ulong expected, uint flags)
    {
        var (result, f) = Run(a => a.lzcnt(eax, ebx), src);
        Assert.That((result, f & (RFlags.CF | RFlags.ZF)), Is.EqualTo((expected, flags)), "EAX zero-extended; CF, ZF");
    }

    [Test(Description = "SDM LZCNT: 16-bit operand: source 1 gives 15, the rest of RAX kept")]
    public void Lzcnt16()
    {
        var (result, _) = Run(a => a.lzcnt(ax, bx), 1);
        Assert.That(result, Is.EqualTo(0x5A5A_5A5A_5A5A_000Ful));
    }

    [TestCase(0x100ul, 8ul, 0u, TestName = "SDM TZCNT: 64-bit, lowest set bit 8: 8, CF = ZF = 0")]
    [TestCase(0ul, 64ul, RFlags.CF, TestName = "SDM TZCNT: a zero 64-bit source gives 64 and CF = 1")]
    [TestCase(1ul, 0ul, RFlags.ZF, TestName = "SDM TZCNT: bit 0 set gives 0 and ZF = 1")]
    public void Tzcnt64(ulong src, ulong expected, uint flags)
    {
        var (result, f) = Run(a => a.tzcnt(rax, rbx), src);
        Assert.That((result, f & (RFlags.CF | RFlags.ZF)), Is.EqualTo((expected, flags)));
    }

    [Test(Description = "SDM ANDN: NOT src1 AND src2; SF, ZF from the result, OF and CF cleared")]
    public void Andn()
    {
        var (result, f) = Run(a => a.andn(rax, rbx, rcx), 0xFF00, 0xFFFF);
        Assert.That((result, f & (RFlags.SF | RFlags.ZF | RFlags.OF | RFlags.CF)), Is.EqualTo((0xFFul, 0u)));
    }

    [TestCase(0x0804ul, 0x67ul, 0u, TestName = "SDM BEXTR: start 4, length 8 of 0x12345678 is 0x67; ZF = 0, CF = OF = 0")]
    [TestCase(0x0820ul, 0ul, RFlags.ZF, TestName = "SDM BEXTR: a start beyond the 32-bit operand gives 0, ZF = 1")]
    [TestCase(0xFF00ul, 0x12345678ul, 0u, TestName = "SDM BEXTR: a length past the operand takes every bit from the start")]
    public void Bextr32(ulong control, ulong expected, uint flags)
    {
        var (result, f) = Run(a => a.bextr(eax, ebx, ecx), 0x12345678, control);
        Assert.That((result, f & (RFlags.ZF | RFlags.OF | RFlags.CF)), Is.EqualTo((expected, flags)));
    }

    [TestCase(0b101000ul, 0b1000ul, RFlags.CF, TestName = "SDM BLSI: src AND -src isolates bit 3; CF = 1 for a nonzero source")]
    [TestCase(0ul, 0ul, RFlags.ZF, TestName = "SDM BLSI: a zero source gives 0, ZF = 1, CF = 0")]
    public void Blsi(ulong src, ulong expected, uint flags)
    {
        var (result, f) = Run(a => a.blsi(rax, rbx), src);
        Assert.That((result, f & (RFlags.SF | RFlags.ZF | RFlags.OF | RFlags.CF)), Is.EqualTo((expected, flags)));
    }

    [TestCase(0b101000ul, 0b1111ul, 0u, TestName = "SDM BLSMSK: src XOR (src - 1) masks up to bit 3; ZF and CF cleared")]
    [TestCase(0ul, 0xFFFF_FFFFul, RFlags.CF | RFlags.SF, TestName = "SDM BLSMSK: a zero 32-bit source gives all ones, CF = 1, SF = 1")]
    public void Blsmsk32(ulong src, ulong expected, uint flags)
    {
        var (result, f) = Run(a => a.blsmsk(eax, ebx), src);
        Assert.That((result, f & (RFlags.SF | RFlags.ZF | RFlags.OF | RFlags.CF)), Is.EqualTo((expected, flags)));
    }

    [TestCase(0b101000ul, 0b100000ul, 0u, TestName = "SDM BLSR: src AND (src - 1) clears bit 3; CF = 0")]
    [TestCase(0ul, 0ul, RFlags.CF | RFlags.ZF, TestName = "SDM BLSR: a zero source gives 0, CF = 1, ZF = 1")]
    public void Blsr(ulong src, ulong expected, uint flags)
    {
        var (result, f) = Run(a => a.blsr(rax, rbx), src);
        Assert.That((result, f & (RFlags.SF | RFlags.ZF | RFlags.OF | RFlags.CF)), Is.EqualTo((expected, flags)));
    }

    [Test(Description = "CPUID advertises exactly what executes: CX16, MOVBE, POPCNT (1:ECX[13, 22, 23]), LZCNT (80000001H:ECX[5]), BMI1 (7:EBX[3]), LAHF/SAHF in 64-bit mode (80000001H:ECX[0])")]
    public void CpuidAdvertisesTheseInstructions()
    {
        Assert.Multiple(() =>
        {
            Assert.That(CpuidLeaves.Native(1, 0).Ecx & ((1u << 13) | (1u << 22) | (1u << 23)), Is.EqualTo((1u << 13) | (1u << 22) | (1u << 23)), "CX16, MOVBE, POPCNT");
            Assert.That(CpuidLeaves.Native(0x80000001, 0).Ecx & ((1u << 5) | 1u), Is.EqualTo((1u << 5) | 1u));
            Assert.That(CpuidLeaves.Native(7, 0).Ebx & (1u << 3), Is.Not.Zero);
        });
    }
}
