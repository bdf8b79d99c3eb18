using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Exception and interrupt delivery through the IDT in 32-bit protected mode (SDM vol. 3, chapter 6):
/// the saved EIP of faults and traps, error codes, the EFLAGS image, gate types, and #UD for bytes
/// that do not decode. All runs here stay at CPL0, so the frame is on the current stack:
/// [error code,] EIP, CS, EFLAGS (figure 6-4, no privilege change).
/// </summary>
[TestFixture]
public sealed class ExceptionDeliveryTests
{
    private const uint Top = CpuHarness.KernelStackTop;

    /// <summary>Runs code with a label at the instruction of interest; returns the machine and the label's address.</summary>
    private static (CpuHarness H, uint At, uint After) RunMarked(Action<Assembler> before, Action<Assembler> marked, uint eflags = 0, Action<CpuHarness>? setup = null)
    {
        var h = new CpuHarness();
        setup?.Invoke(h);
        Label at = default, after = default;
        var stop = h.Run(a =>
        {
            at = a.CreateLabel();
            after = a.CreateLabel();
            before(a);
            a.Label(ref at);
            marked(a);
            a.Label(ref after);
            a.hlt();
        }, eflags: eflags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return (h, h.AddressOf(at), h.AddressOf(after));
    }

    [TestCase(TestName = "INT3 is a trap: vector 3, saved EIP = the next instruction, saved CS and EFLAGS, no error code")]
    public void Int3SavesTheNextEip()
    {
        var (h, _, after) = RunMarked(_ => { }, a => a.int3(), eflags: IF | CF | ZF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.BP));
            Assert.That(h.Frame(0), Is.EqualTo(after), "saved EIP");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.KernelCode), "saved CS");
            Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | IF | CF | ZF), "EFLAGS image as it was before delivery");
            Assert.That(h.Cpu.Esp, Is.EqualTo(Top - 12), "EIP, CS, EFLAGS only");
        });
    }

    [TestCase(TestName = "An interrupt gate clears IF on entry (the saved image keeps IF = 1)")]
    public void InterruptGateClearsIf()
    {
        var (h, _, _) = RunMarked(_ => { }, a => a.int3(), eflags: IF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eflags & IF, Is.EqualTo(0u));
            Assert.That(h.Frame(2) & IF, Is.EqualTo(IF));
        });
    }

    [TestCase(TestName = "A trap gate leaves IF as it was on entry")]
    public void TrapGateKeepsIf()
    {
        var (h, _, _) = RunMarked(_ => { }, a => a.int3(), eflags: IF,
            setup: h => h.SetGate((int)X86Vector.BP, SystemDescriptorType.TrapGate32, 0));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.BP));
            Assert.That(h.Cpu.Eflags & IF, Is.EqualTo(IF));
        });
    }

    [TestCase(TestName = "Delivery clears TF, NT and RF in EFLAGS, and the saved image keeps them")]
    public void DeliveryClearsTfAndNt()
    {
        // NT set at CPL0 is harmless until an IRET; TF would single-step, so only NT is set here.
        var (h, _, _) = RunMarked(_ => { }, a => a.int3(), eflags: NT);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eflags & (TF | NT | RF), Is.EqualTo(0u));
            Assert.That(h.Frame(2) & NT, Is.EqualTo(NT));
        });
    }

    [TestCase(TestName = "UD2 raises #UD as a fault: saved EIP = the UD2 itself, no error code")]
    public void Ud2SavesTheFaultingEip()
    {
        var (h, at, _) = RunMarked(_ => { }, a => a.ud2());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(at));
            Assert.That(h.Cpu.Esp, Is.EqualTo(Top - 12));
        });
    }

    [TestCase(new byte[] { 0x0F, 0x04 }, TestName = "Undefined opcode 0F 04 raises #UD at its address")]
    [TestCase(new byte[] { 0xFE, 0xF8 }, TestName = "Undefined group-4 encoding FE /7 raises #UD at its address")]
    [TestCase(new byte[] { 0xF0, 0x90 }, TestName = "LOCK NOP (LOCK on a non-lockable instruction) raises #UD")]
    [TestCase(new byte[] { 0xF0, 0x01, 0xC0 }, TestName = "LOCK ADD with a register destination raises #UD")]
    [TestCase(new byte[] { 0x8D, 0xC0 }, TestName = "LEA with a register source (8D C0) raises #UD")]
    public void UndecodableBytesRaiseInvalidOpcode(byte[] bytes)
    {
        var (h, at, _) = RunMarked(_ => { }, a => a.db(bytes));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(at));
        });
    }

    [TestCase((ushort)0x40, 0x40u, TestName = "MOV DS with selector 0x40 just beyond the GDT limit 0x3F raises #GP(0x40)")]
    [TestCase((ushort)0x43, 0x40u, TestName = "MOV DS with selector 0x43 beyond the GDT limit raises #GP(0x40): the error code has no RPL")]
    [TestCase((ushort)0x0C, 0x0Cu, TestName = "MOV DS with an LDT selector (TI = 1) and a null LDTR raises #GP(0x0C)")]
    [TestCase((ushort)0x28, 0x28u, TestName = "MOV DS with a TSS selector (system descriptor) raises #GP(0x28)")]
    public void SegmentLoadFaultsPushTheSelectorErrorCode(ushort selector, uint errorCode)
    {
        var (h, at, _) = RunMarked(a => a.mov(ax, selector), a => a.mov(ds, ax));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(errorCode), "error code");
            Assert.That(h.Frame(1), Is.EqualTo(at), "saved EIP = the MOV");
            Assert.That(h.Frame(2), Is.EqualTo((uint)CpuHarness.KernelCode));
            Assert.That(h.Cpu.Esp, Is.EqualTo(Top - 16), "error code, EIP, CS, EFLAGS");
            Assert.That(h.Cpu.Segments[X86Cpu.DS].Selector, Is.EqualTo(CpuHarness.KernelData), "DS unchanged");
        });
    }

    [TestCase((ushort)0, TestName = "MOV SS with the null selector 0 raises #GP(0)")]
    [TestCase((ushort)3, TestName = "MOV SS with the null selector 3 (RPL 3) raises #GP(0)")]
    public void NullStackSegmentRaisesGeneralProtection(ushort selector)
    {
        var (h, at, _) = RunMarked(a => a.mov(ax, selector), a => a.mov(ss, ax));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(0u));
            Assert.That(h.Frame(1), Is.EqualTo(at));
        });
    }

    [TestCase(0xFFCu, false, TestName = "A dword read at offset 0xFFC of a segment with limit 0xFFF is within the limit")]
    [TestCase(0xFFDu, true, TestName = "A dword read at offset 0xFFD of a segment with limit 0xFFF raises #GP(0)")]
    [TestCase(0x1000u, true, TestName = "A dword read at offset 0x1000 of a segment with limit 0xFFF raises #GP(0)")]
    public void DataSegmentLimit(uint offset, bool faults)
    {
        var (h, at, _) = RunMarked(
            a =>
            {
                a.mov(ax, CpuHarness.SmallData);
                a.mov(ds, ax);
            },
            a => a.mov(eax, __dword_ptr[offset]),
            setup: h => h.WriteU32(CpuHarness.SmallSegmentBase + 0xFFC, 0x600DF00Du));
        Assert.Multiple(() =>
        {
            if (faults)
            {
                Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
                Assert.That(h.Frame(0), Is.EqualTo(0u), "error code 0");
                Assert.That(h.Frame(1), Is.EqualTo(at));
            }
            else
            {
                Assert.That(h.Vector, Is.Null);
                Assert.That(h.Cpu.Eax, Is.EqualTo(0x600DF00Du), "read at segment base + offset");
            }
        });
    }

    [TestCase(TestName = "Self-modifying code: a store into an instruction already executed (and cached) is seen when it runs again")]
    public void StoreIntoCachedInstructionIsSeen()
    {
        const uint sub = CpuHarness.CodeBase + 0x800;
        var h = new CpuHarness();
        // sub: B8 imm32 (mov eax, imm32), C3 (ret): the immediate is at sub + 1.
        h.Load(sub, a =>
        {
            a.mov(eax, 0x11111111u);
            a.ret();
        });
        h.Run(a =>
        {
            a.call(sub);
            a.mov(ebx, eax);
            a.mov(__dword_ptr[sub + 1], 0x22222222u);
            a.call(sub);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Ebx, Is.EqualTo(0x11111111u), "first run");
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x22222222u), "second run sees the store");
        });
    }

    [TestCase(TestName = "Self-modifying code: a store into the very next instruction's bytes is executed as stored")]
    public void StoreIntoNextInstructionIsSeen()
    {
        const uint block = CpuHarness.CodeBase + 0x900;
        var h = new CpuHarness();
        // block: C6 05 disp32 imm8 (mov byte [disp32], imm8: 7 bytes), then B8 imm32 at block + 7,
        // whose low immediate byte is at block + 8.
        h.Load(block, a =>
        {
            a.mov(__byte_ptr[block + 8], 0x05);
            a.mov(eax, 0x01u);
            a.hlt();
        });
        h.Run(a => a.jmp(block));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Eax, Is.EqualTo(5u));
        });
    }

    [TestCase(TestName = "A #UD whose gate is not present raises #NP with error code 6 * 8 + IDT (2) + EXT (1) = 0x33; #UD is benign so #NP is delivered")]
    public void NotPresentGateRaisesNotPresentWithIdtAndExtBits()
    {
        var (h, at, _) = RunMarked(_ => { }, a => a.ud2(),
            setup: h => h.SetGate((int)X86Vector.UD, SystemDescriptorType.InterruptGate32, 0, present: false));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.NP));
            Assert.That(h.Frame(0), Is.EqualTo(0x33u));
            Assert.That(h.Frame(1), Is.EqualTo(at), "saved EIP = the UD2");
        });
    }

    [TestCase(TestName = "#GP whose gate is not present gives #NP while delivering a contributory fault: #DF with error code 0 (SDM table 6-5)")]
    public void ContributoryFaultDuringContributoryDeliveryIsDoubleFault()
    {
        var (h, _, _) = RunMarked(a => a.mov(ax, (ushort)0x40), a => a.mov(ds, ax),
            setup: h => h.SetGate((int)X86Vector.GP, SystemDescriptorType.InterruptGate32, 0, present: false));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DF));
            Assert.That(h.Frame(0), Is.EqualTo(0u), "#DF error code is 0; its saved EIP is undefined and not compared");
        });
    }

    [TestCase(TestName = "A fault while delivering #DF shuts the processor down (triple fault)")]
    public void FaultDuringDoubleFaultIsTripleFault()
    {
        var h = new CpuHarness();
        h.SetGate((int)X86Vector.GP, SystemDescriptorType.InterruptGate32, 0, present: false);
        h.SetGate((int)X86Vector.DF, SystemDescriptorType.InterruptGate32, 0, present: false);
        var stop = h.Run(a =>
        {
            a.mov(ax, (ushort)0x40);
            a.mov(ds, ax);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.TripleFault));
    }

    [TestCase(TestName = "INT n whose gate lies beyond the IDT limit raises #GP(n * 8 + 2)")]
    public void InterruptBeyondIdtLimit()
    {
        var (h, at, _) = RunMarked(
            a =>
            {
                // Shrink the IDT to 0x20 entries with LIDT; vector 0x20 is then beyond the limit.
                a.mov(__word_ptr[CpuHarness.DataBase], (ushort)((0x20 * 8) - 1));
                a.mov(__dword_ptr[CpuHarness.DataBase + 2], CpuHarness.IdtBase);
                a.lidt(__fword_ptr[CpuHarness.DataBase]);
            },
            a => a.@int(0x20));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo((0x20u * 8) + 2));
            Assert.That(h.Frame(1), Is.EqualTo(at));
        });
    }

    [TestCase(TestName = "DS may hold a readable code segment: reads through it succeed, writes raise #GP(0)")]
    public void WriteThroughCodeSegmentFaults()
    {
        var (h, at, _) = RunMarked(
            a =>
            {
                a.mov(ax, CpuHarness.KernelCode);
                a.mov(ds, ax);
                a.mov(ebx, __dword_ptr[CpuHarness.DataBase]);
            },
            a => a.mov(__dword_ptr[CpuHarness.DataBase], ebx),
            setup: h => h.WriteU32(CpuHarness.DataBase, 0xABCD1234u));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Ebx, Is.EqualTo(0xABCD1234u), "read through the code segment");
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(0u));
            Assert.That(h.Frame(1), Is.EqualTo(at));
        });
    }
}
