using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// EIP in 16-bit code. Sequential execution never truncates it: it is a 32-bit register in 16-bit
/// segments too (XTF tests/xsa-186, from experiments on Intel and AMD hardware), and every byte of
/// an instruction is checked against the CS limit at its untruncated offset (SDM vol. 3, 5.3).
/// With a 64 KiB limit, running off the end is #GP(0); with a 4 GiB limit execution goes on past
/// 0xFFFF. Only transfers of 16-bit operand size truncate (SDM vol. 2, JMP/CALL/RET/Jcc/IRET:
/// "IF OperandSize = 16 THEN EIP <- EIP AND 0000FFFFH"). Each case runs hot (beyond the block
/// compiler's threshold) where it can, in every execution tier.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class SixteenBitIpTests
{
    /// <summary>Base of both 16-bit code segments, so offset 0x10000 is mid-page (linear 0x50800).</summary>
    private const uint Base = 0x40800;

    /// <summary>Entry 8: 16-bit code, base <see cref="Base"/>, limit 0xFFFFF with G = 1 (4 GiB). Entry 9: the same with limit 0xFFFF, G = 0.</summary>
    private const ushort Big = DescriptorKit.Sel8, Small = DescriptorKit.Sel9;

    private const int Loops = 300; // beyond BlockCompiler.Threshold

    private const byte Hlt = 0xF4;

    private static readonly ExecutionTier[] Tiers = [ExecutionTier.Stepping, ExecutionTier.Specialised, ExecutionTier.Compiled];

    /// <summary>
    /// The loop both limit tests run, at CS offsets:
    /// FFFA inc si | FFFB nop | FFFC o32 mov eax, 0C0DE1234h (6 bytes, to 10001) | 10002 inc di |
    /// 10003 dec cx | 10004 jnz FFFA (rel8 -12 from 10006; 16-bit operand size, target FFFA) |
    /// 10006 jmp far 0048:FFFA (ptr16:16, into the 64 KiB segment) .
    /// Offsets 0-0Fh hold HLT: a CPU that wrapped IP after the mov would stop at IP 3.
    /// </summary>
    private static void PlaceLoop(CpuHarness h)
    {
        DescriptorKit.SetDescriptor(h, 8, SegmentDescriptor.CodeOrData(0xB, Base, 0xFFFFF, 0, big: false, granular: true));
        DescriptorKit.SetDescriptor(h, 9, SegmentDescriptor.CodeOrData(0xB, Base, 0xFFFF, 0, big: false, granular: false));
        h.WriteBytes(Base, Enumerable.Repeat(Hlt, 16).ToArray());
        h.WriteBytes(Base + 0xFFFA, [0x46, 0x90, 0x66, 0xB8, 0x34, 0x12, 0xDE, 0xC0, 0x47, 0x49, 0x75, 0xF4, 0xEA, 0xFA, 0xFF, (byte)Small, 0x00]);
    }

    private static CpuHarness RunIn16BitCode(ExecutionTier tier, uint entry, Action<CpuHarness> place)
    {
        return DescriptorKit.RunKernel(a =>
        {
            a.xor(eax, eax);
            a.xor(esi, esi);
            a.xor(edi, edi);
            a.mov(ecx, Loops);
            a.jmp(Big, entry);
        }, h =>
        {
            h.Cpu.MaxTier = tier;
            place(h);
        });
    }

    [Test(Description = "SDM vol. 3, 5.3 with a 4 GiB limit: 16-bit code runs across offset 0xFFFF on to 0x10000, EIP not truncated")]
    public void FourGigabyteLimitRunsPastFfff([ValueSource(nameof(Tiers))] ExecutionTier tier)
    {
        var h = RunIn16BitCode(tier, 0xFFFA, PlaceLoop);

        // 300 iterations of the loop, then the far jump into the 64 KiB segment: inc si and nop
        // retire, the mov's bytes FFFC-10001 exceed limit FFFF: #GP(0), saved CS:EIP = 0048:FFFC.
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Esi, Is.EqualTo((uint)Loops + 1), "inc si: every iteration, and once in the 64 KiB segment");
            Assert.That(h.Cpu.Edi, Is.EqualTo((uint)Loops), "inc di at offset 0x10002: every iteration");
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xC0DE1234u), "the mov straddling 0xFFFF retired");
            Assert.That(h.Cpu.Ecx, Is.Zero);
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.Zero, "error code");
            Assert.That(h.Frame(1), Is.EqualTo(0xFFFCu), "saved EIP: the mov");
            Assert.That(h.Frame(2), Is.EqualTo((uint)Small), "saved CS");
        });
    }

    [Test(Description = "SDM vol. 3, 5.3 with limit 0xFFFF: an instruction ending at 0xFFFF retires; the fetch at EIP 0x10000 is #GP(0) saving EIP 0x10000, not 0")]
    public void SixtyFourKilobyteLimitFaultsAtTenThousand([ValueSource(nameof(Tiers))] ExecutionTier tier)
    {
        // 0048:FFFD mov ax, 5678h (B8 78 56, bytes FFFD-FFFF): within the limit.
        var h = DescriptorKit.RunKernel(a =>
        {
            a.xor(eax, eax);
            a.jmp(Small, 0xFFFD);
        }, h =>
        {
            h.Cpu.MaxTier = tier;
            PlaceLoop(h);
            h.WriteBytes(Base + 0xFFFD, [0xB8, 0x78, 0x56]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax & 0xFFFF, Is.EqualTo(0x5678u));
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.Zero, "error code");
            Assert.That(h.Frame(1), Is.EqualTo(0x10000u), "saved EIP");
            Assert.That(h.Frame(2), Is.EqualTo((uint)Small), "saved CS");
        });
    }

    [Test(Description = "SDM vol. 2, JMP/Jcc: a near jump of 16-bit operand size from above 0xFFFF truncates its target; of 32-bit operand size it does not")]
    public void SixteenBitJumpTruncates([ValueSource(nameof(Tiers))] ExecutionTier tier)
    {
        // 10010 inc si | 10011 jmp rel16 +2Ch: (10014 + 2C) AND FFFF = 0040 (10040 holds HLT) |
        // 0040 dec cx | 0041 jz 0050 (74 0D) | 0043 o32 jmp rel32 0000FFC7h: 49 + FFC7 = 10010 |
        // 0050 hlt.
        var h = RunIn16BitCode(tier, 0x10010, h =>
        {
            PlaceLoop(h);
            h.WriteBytes(Base + 0x10010, [0x46, 0xE9, 0x2C, 0x00]);
            h.WriteBytes(Base + 0x10040, [Hlt]);
            h.WriteBytes(Base + 0x40, [0x49, 0x74, 0x0D, 0x66, 0xE9, 0xC7, 0xFF, 0x00, 0x00]);
            h.WriteBytes(Base + 0x50, [Hlt]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(0x51ul), "halted at offset 0x50");
            Assert.That(h.Cpu.Esi, Is.EqualTo((uint)Loops));
            Assert.That(h.Cpu.Ecx, Is.Zero);
        });
    }

    [Test(Description = "SDM vol. 2, CALL/RET: a near call of 16-bit operand size from above 0xFFFF pushes IP (EIP AND FFFFh) and truncates its target; RET pops IP")]
    public void SixteenBitCallAndReturnTruncate([ValueSource(nameof(Tiers))] ExecutionTier tier)
    {
        // 10020 inc si | 10021 call rel16 +3Dh: return IP 10024 AND FFFF = 0024 pushed (2 bytes),
        // target (10024 + 3D) AND FFFF = 0061 (10061 holds HLT) | 0061 ret: EIP = 0024 |
        // 0024 dec cx | 0025 jz 0030 (74 09) | 0027 o32 jmp rel32 0000FFF3h: 2D + FFF3 = 10020 |
        // 0030 hlt.
        var h = RunIn16BitCode(tier, 0x10020, h =>
        {
            PlaceLoop(h);
            h.WriteBytes(Base + 0x10020, [0x46, 0xE8, 0x3D, 0x00]);
            h.WriteBytes(Base + 0x10061, [Hlt]);
            h.WriteBytes(Base + 0x61, [0xC3]);
            h.WriteBytes(Base + 0x24, [0x49, 0x74, 0x09, 0x66, 0xE9, 0xF3, 0xFF, 0x00, 0x00]);
            h.WriteBytes(Base + 0x30, [Hlt]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(0x31ul), "halted at offset 0x30");
            Assert.That(h.Cpu.Esi, Is.EqualTo((uint)Loops));
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop), "every CALL's 2 bytes popped by its RET");
            Assert.That(h.ReadU32(CpuHarness.KernelStackTop - 4) >> 16, Is.EqualTo(0x24u), "the pushed word: IP 0024");
        });
    }

    [Test(Description = "SDM vol. 3, 6.12.1: INT n through a 32-bit gate from EIP above 0xFFFF saves the full EIP; IRETD returns there")]
    public void InterruptThroughThirtyTwoBitGateKeepsEip([ValueSource(nameof(Tiers))] ExecutionTier tier)
    {
        // 10030 int 80h (32-bit interrupt gate; handler: mov eax, C0DEh; iretd) | 10032 hlt.
        var h = DescriptorKit.RunKernel(a =>
        {
            a.xor(eax, eax);
            a.jmp(Big, 0x10030);
        }, h =>
        {
            h.Cpu.MaxTier = tier;
            PlaceLoop(h);
            h.SetHandler(0x80, a =>
            {
                a.mov(eax, 0xC0DE);
                a.iretd();
            });
            h.WriteBytes(Base + 0x10030, [0xCD, 0x80, Hlt]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xC0DEu), "the handler ran");
            Assert.That(h.Cpu.Rip, Is.EqualTo(0x10033ul), "IRETD returned to EIP 0x10032");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop));
        });
    }

    [Test(Description = "SDM vol. 3, 6.12.1 and IRET: INT n through a 16-bit gate from EIP above 0xFFFF pushes IP (EIP AND FFFFh); a 16-bit IRET returns to IP")]
    public void InterruptThroughSixteenBitGateSavesIp([ValueSource(nameof(Tiers))] ExecutionTier tier)
    {
        // 10040 int 82h (16-bit interrupt gate; handler: mov eax, C0DEh; iret with operand size 16)
        // | 10042 hlt (not reached) ... 0042 inc ax; hlt.
        var h = DescriptorKit.RunKernel(a =>
        {
            a.xor(eax, eax);
            a.jmp(Big, 0x10040);
        }, h =>
        {
            h.Cpu.MaxTier = tier;
            PlaceLoop(h);
            h.SetGate(0x82, SystemDescriptorType.InterruptGate16, 0);
            h.SetHandler(0x82, a =>
            {
                a.mov(eax, 0xC0DE);
                a.iret();
            });
            h.WriteBytes(Base + 0x10040, [0xCD, 0x82, Hlt]);
            h.WriteBytes(Base + 0x42, [0x40, Hlt]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xC0DFu), "the handler ran, then inc ax at IP 0x42");
            Assert.That(h.Cpu.Rip, Is.EqualTo(0x44ul), "IRET returned to EIP 0x0042");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop));
        });
    }
}
