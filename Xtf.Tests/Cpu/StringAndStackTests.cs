using System.Text;
using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// String instructions with REP/REPE/REPNE and DF (SDM vol. 1, 7.3.9; vol. 2 MOVS, STOS, CMPS, SCAS,
/// REP), LOOP, and the PUSHAD/POPAD stack layout.
/// </summary>
[TestFixture]
public sealed class StringAndStackTests
{
    private const uint Source = CpuHarness.DataBase, Destination = CpuHarness.DataBase + 0x100;

    private static CpuHarness Run(Action<Assembler> body, uint eflags = 0, Action<CpuHarness>? setup = null)
    {
        var h = new CpuHarness();
        setup?.Invoke(h);
        var stop = h.Run(a =>
        {
            body(a);
            a.hlt();
        }, eflags: eflags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(h.Vector, Is.Null, "no exception");
        return h;
    }

    /// <summary>Runs "REPE CMPSB" over <paramref name="source"/> and <paramref name="destination"/> with ECX = <paramref name="count"/>.</summary>
    private static CpuHarness RepeCmpsb(string source, string destination, uint count, uint eflags = 0) =>
        Run(a =>
        {
            a.mov(esi, Source);
            a.mov(edi, Destination);
            a.mov(ecx, count);
            a.repe.cmpsb();
        }, eflags, h =>
        {
            h.WriteBytes(Source, Encoding.ASCII.GetBytes(source));
            h.WriteBytes(Destination, Encoding.ASCII.GetBytes(destination));
        });

    private static string ReadString(CpuHarness h, uint address, int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
            bytes[i] = h.ReadU8(address + (uint)i);
        return Encoding.ASCII.GetString(bytes);
    }

    [TestCase(TestName = "REP MOVSB, DF = 0: copies ECX bytes upward; ESI and EDI advance by ECX, ECX ends 0")]
    public void RepMovsbForward()
    {
        var h = Run(a =>
        {
            a.mov(esi, Source);
            a.mov(edi, Destination);
            a.mov(ecx, 4u);
            a.rep.movsb();
        }, setup: h => h.WriteBytes(Source, "ABCDE"u8));
        Assert.Multiple(() =>
        {
            Assert.That(ReadString(h, Destination, 5), Is.EqualTo("ABCD\0"));
            Assert.That((h.Cpu.Esi, h.Cpu.Edi, h.Cpu.Ecx), Is.EqualTo((Source + 4, Destination + 4, 0u)));
        });
    }

    [TestCase(TestName = "REP MOVSD, DF = 1: copies dwords downward from the given addresses; ESI and EDI drop by 4 per dword")]
    public void RepMovsdBackward()
    {
        var h = Run(a =>
        {
            a.mov(esi, Source + 4);
            a.mov(edi, Destination + 4);
            a.mov(ecx, 2u);
            a.rep.movsd();
        }, eflags: DF, setup: h =>
        {
            h.WriteU32(Source, 0x11111111u);
            h.WriteU32(Source + 4, 0x22222222u);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Destination), Is.EqualTo(0x11111111u));
            Assert.That(h.ReadU32(Destination + 4), Is.EqualTo(0x22222222u));
            Assert.That((h.Cpu.Esi, h.Cpu.Edi, h.Cpu.Ecx), Is.EqualTo((Source - 4, Destination - 4, 0u)));
        });
    }

    [TestCase(TestName = "REP STOSB with ECX = 0 stores nothing and leaves EDI unchanged")]
    public void RepStosWithZeroCountDoesNothing()
    {
        var h = Run(a =>
        {
            a.mov(edi, Destination);
            a.xor(ecx, ecx);
            a.mov(al, 0x5A);
            a.rep.stosb();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU8(Destination), Is.EqualTo(0));
            Assert.That(h.Cpu.Edi, Is.EqualTo(Destination));
        });
    }

    [TestCase(TestName = "STOSD without REP, DF = 1: one store, EDI decremented by 4")]
    public void StosdBackward()
    {
        var h = Run(a =>
        {
            a.mov(edi, Destination);
            a.mov(eax, 0xCAFEF00Du);
            a.stosd();
        }, eflags: DF);
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Destination), Is.EqualTo(0xCAFEF00Du));
            Assert.That(h.Cpu.Edi, Is.EqualTo(Destination - 4));
        });
    }

    [TestCase(TestName = "REPE CMPSB stops after the first mismatch: \"ABXD\" vs \"ABCD\" stops after X/C with ECX = 1, ZF = 0")]
    public void RepeCmpsbStopsOnMismatch()
    {
        var h = RepeCmpsb("ABXD", "ABCD", 4);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Ecx, Is.EqualTo(1u), "three comparisons made");
            Assert.That((h.Cpu.Esi, h.Cpu.Edi), Is.EqualTo((Source + 3, Destination + 3)));
            // Last comparison 'X' (0x58) - 'C' (0x43) = 0x15: no borrow, not zero.
            Assert.That(h.Cpu.Eflags & (ZF | CF), Is.EqualTo(0u));
        });
    }

    [TestCase(TestName = "REPE CMPSB over equal strings runs ECX down to 0 with ZF = 1")]
    public void RepeCmpsbEqualStrings()
    {
        var h = RepeCmpsb("ABCD", "ABCD", 4);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Ecx, Is.EqualTo(0u));
            Assert.That(h.Cpu.Eflags & ZF, Is.EqualTo(ZF));
        });
    }

    [TestCase(TestName = "REPNE SCASB finds AL: scanning \"abc\\0def\" for 0 stops after 4 bytes with ZF = 1, ECX = 100 - 4")]
    public void RepneScasbStopsOnMatch()
    {
        var h = Run(a =>
        {
            a.mov(edi, Destination);
            a.mov(ecx, 100u);
            a.xor(eax, eax);
            a.repne.scasb();
        }, setup: h => h.WriteBytes(Destination, "abc\0def"u8));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Ecx, Is.EqualTo(96u));
            Assert.That(h.Cpu.Edi, Is.EqualTo(Destination + 4));
            Assert.That(h.Cpu.Eflags & ZF, Is.EqualTo(ZF));
        });
    }

    [TestCase(TestName = "REPE CMPSB with ECX = 0 compares nothing: flags, ESI and EDI unchanged")]
    public void RepeCmpsWithZeroCountLeavesFlags()
    {
        var h = RepeCmpsb("Z", "", 0, eflags: CF | SF | OF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eflags & Status, Is.EqualTo(CF | SF | OF));
            Assert.That((h.Cpu.Esi, h.Cpu.Edi), Is.EqualTo((Source, Destination)));
        });
    }

    [TestCase(TestName = "LOOP decrements ECX and branches while it is non-zero: 5 iterations, ECX ends 0, flags untouched")]
    public void LoopCountsDownEcx()
    {
        var h = Run(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 5u);
            a.xor(eax, eax);
            a.stc();
            a.Label(ref top);
            a.lea(eax, __dword_ptr[eax + 2]); // LEA leaves the flags alone
            a.loop(top);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(10u));
            Assert.That(h.Cpu.Ecx, Is.EqualTo(0u));
            Assert.That(h.Cpu.Eflags & (CF | ZF), Is.EqualTo(CF | ZF), "LOOP changes no flag: ZF from XOR and CF from STC survive");
        });
    }

    [TestCase(TestName = "PUSHAD pushes EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI (SDM: PUSHA/PUSHAD)")]
    public void PushadLayout()
    {
        const uint top = CpuHarness.KernelStackTop;
        var h = Run(a =>
        {
            a.mov(eax, 0xA0u);
            a.mov(ecx, 0xC1u);
            a.mov(edx, 0xD2u);
            a.mov(ebx, 0xB3u);
            a.mov(ebp, 0xB5u);
            a.mov(esi, 0x56u);
            a.mov(edi, 0xD7u);
            a.pushad();
        });
        uint[] expected = [0xA0, 0xC1, 0xD2, 0xB3, top, 0xB5, 0x56, 0xD7];
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Esp, Is.EqualTo(top - 32));
            for (int i = 0; i < 8; i++)
                Assert.That(h.ReadU32(top - (4 * (uint)(i + 1))), Is.EqualTo(expected[i]), $"slot {i}");
        });
    }

    [TestCase(TestName = "POPAD pops EDI, ESI, EBP, skips the ESP slot, then EBX, EDX, ECX, EAX; ESP ends 32 higher")]
    public void PopadSkipsTheEspSlot()
    {
        const uint top = CpuHarness.KernelStackTop;
        var h = Run(a =>
        {
            // Build the eight slots by hand, in PUSHAD order, with a bogus ESP image.
            foreach (uint v in new uint[] { 0xA0, 0xC1, 0xD2, 0xB3, 0xDEADBEEF, 0xB5, 0x56, 0xD7 })
                a.push(v);
            a.popad();
        });
        Assert.Multiple(() =>
        {
            Assert.That((h.Cpu.Eax, h.Cpu.Ecx, h.Cpu.Edx, h.Cpu.Ebx), Is.EqualTo((0xA0u, 0xC1u, 0xD2u, 0xB3u)));
            Assert.That((h.Cpu.Ebp, h.Cpu.Esi, h.Cpu.Edi), Is.EqualTo((0xB5u, 0x56u, 0xD7u)));
            Assert.That(h.Cpu.Esp, Is.EqualTo(top), "the ESP image is discarded");
        });
    }

    [TestCase(TestName = "REP STOSB faulting mid-way at the ES limit: #GP(0) at the REP STOSB, with EDI and ECX showing the iterations done")]
    public void RepStosFaultLeavesProgressInRegisters()
    {
        var h = new CpuHarness();
        Label at = default;
        h.Run(a =>
        {
            a.mov(ax, CpuHarness.SmallData); // limit 0xFFF
            a.mov(es, ax);
            a.mov(edi, 0xFFEu);
            a.mov(ecx, 4u);
            a.mov(al, 0x77);
            at = a.CreateLabel();
            a.Label(ref at);
            a.rep.stosb();
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(0u));
            Assert.That(h.Frame(1), Is.EqualTo(h.AddressOf(at)), "the instruction restarts");
            // Offsets 0xFFE and 0xFFF were stored; the third store, at 0x1000, faulted.
            Assert.That((h.Cpu.Edi, h.Cpu.Ecx), Is.EqualTo((0x1000u, 2u)));
            Assert.That(h.ReadU8(CpuHarness.SmallSegmentBase + 0xFFE), Is.EqualTo(0x77));
            Assert.That(h.ReadU8(CpuHarness.SmallSegmentBase + 0xFFF), Is.EqualTo(0x77));
        });
    }
}
