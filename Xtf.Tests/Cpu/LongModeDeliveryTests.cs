using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Interrupt and exception delivery in IA-32e mode (SDM vol. 3, 6.14; vol. 2, INT n): 16-byte
/// gates, 64-bit targets, RSPn and IST stacks, 16-byte alignment, 8-byte frames, null SS.
/// Frames are read as quadwords from RSP: [error code,] RIP, CS, RFLAGS, RSP, SS.
/// </summary>
public sealed class LongModeDeliveryTests
{
    private const int Int = SystemDescriptorType.InterruptGate64, Trap = SystemDescriptorType.TrapGate64;

    [TestCase(TestName = "SDM vol. 3, 9.8.5: CR4.PAE, CR3, EFER.LME and CR0.PG, then a far JMP to an L=1 code segment, reach 64-bit mode at CPL 0")]
    public void HarnessReachesSixtyFourBitMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => a.hlt());
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.LongMode, Is.True, "EFER.LMA");
            Assert.That(h.Cpu.Bitness, Is.EqualTo(64), "CS.L = 1");
            Assert.That(h.Cpu.Cpl, Is.Zero);
            Assert.That(h.Cpu.Rip, Is.EqualTo(CodeBase + 1), "halted after the body's HLT");
            Assert.That(h.Cpu.Tr.Selector, Is.EqualTo(TssSelector));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.2: INT3 at CPL0 in 64-bit mode pushes SS, RSP, RFLAGS, CS, RIP as 8-byte slots even without a privilege change")]
    public void SamePrivilegeFrameHasFiveQuadwords()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => a.int3());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(3));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 40), "five 8-byte slots");
            Assert.That(h.Frame(0), Is.EqualTo(CodeBase + 1), "RIP after INT3 (a trap)");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)Kernel64), "CS");
            Assert.That(h.Frame(2), Is.EqualTo((ulong)RFlags.Reserved1), "RFLAGS");
            Assert.That(h.Frame(3), Is.EqualTo(KernelStackTop), "RSP");
            Assert.That(h.Frame(4), Is.EqualTo((ulong)KernelData), "SS");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(KernelData), "no privilege change: SS kept");
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.2: the new RSP is aligned down to 16 bytes before the pushes; the frame holds the unaligned RSP")]
    public void StackIsAlignedToSixteenBytes()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.sub(rsp, 8);
            a.int3();
        });
        // KernelStackTop - 8 = 0x8FF8, aligned down to 0x8FF0, then 40 bytes: 0x8FC8.
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 16 - 40));
            Assert.That(h.Frame(3), Is.EqualTo(KernelStackTop - 8), "the RSP slot holds the interrupted RSP");
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.2: an exception with an error code pushes it as an 8-byte slot (#GP(selector) of MOV DS beyond the GDT limit)")]
    public void ErrorCodeIsAQuadword()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(ax, 0x100); // index 32: beyond the 32-entry GDT
            a.mov(ds, ax);
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0x100);
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 48), "six 8-byte slots");
            Assert.That(h.Frame(1), Is.EqualTo(CodeBase + 4), "RIP of the faulting MOV (after the 4-byte MOV AX)");
            Assert.That(h.Frame(3) & RFlags.RF, Is.EqualTo((ulong)RFlags.RF), "a fault's RFLAGS image has RF set");
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.4: a fault at CPL3 switches to RSP0 of the 64-bit TSS and loads SS with a null selector whose RPL is the new CPL (0)")]
    public void PrivilegeChangeUsesRsp0AndNullSs()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a), a => a.ud2());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(Rsp0Top - 40));
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.Zero, "SS = null selector, RPL 0");
            Assert.That(h.Cpu.Cpl, Is.Zero);
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase), "RIP of the UD2");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User64));
            Assert.That(h.Frame(3), Is.EqualTo(UserStackTop));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.4: a privilege change to ring 1 loads RSP1 and SS = null selector with RPL 1, which a later frame holds")]
    public void PrivilegeChangeToRingOneUsesRsp1()
    {
        // The ring-1 handler's HLT is privileged: its #GP(0) goes to ring 0 and records the ring-1 state.
        var h = new LongModeHarness();
        h.SetGate(0x80, new Gate(Int, 3, Selector: Ring1Code));
        h.RunToHalt(a => EnterUser(a), a => a.@int(0x80));
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(1), Is.EqualTo(HandlerBase + (16ul * 0x80)), "the ring-1 handler's HLT");
            Assert.That(h.Frame(2), Is.EqualTo((ulong)Ring1Code), "CS of ring 1");
            Assert.That(h.Frame(4), Is.EqualTo(Rsp1Top - 40), "ring 1 ran on RSP1 below its frame");
            Assert.That(h.Frame(5), Is.EqualTo(1ul), "ring 1's SS: null selector, RPL 1");
            Assert.That(h.ReadU64(Rsp1Top - 32), Is.EqualTo((ulong)User64), "CS in the ring-1 frame");
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.5: a 64-bit IDT gate with IST=2 switches to IST2 even without a privilege change")]
    public void IstSwitchesStackWithoutPrivilegeChange()
    {
        var h = new LongModeHarness();
        h.SetGate(3, new Gate(Int, 0, Ist: 2));
        h.RunToHalt(a => a.int3());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(3));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(IstTop(2) - 40));
            Assert.That(h.Frame(3), Is.EqualTo(KernelStackTop), "the interrupted RSP");
            Assert.That(h.Frame(4), Is.EqualTo((ulong)KernelData), "SS unchanged and pushed");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(KernelData));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.5: on a privilege change through a gate with IST=5 the IST stack is used, not RSP0; SS becomes null")]
    public void IstTakesPrecedenceOverRsp0()
    {
        var h = new LongModeHarness();
        h.SetGate(3, new Gate(Int, 3, Ist: 5));
        h.RunToHalt(a => EnterUser(a), a => a.int3());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(3));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(IstTop(5) - 40));
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.Zero);
            Assert.That(h.Frame(3), Is.EqualTo(UserStackTop));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14: an exception in compatibility mode at CPL3 is delivered through the 16-byte gate into 64-bit mode with an 8-byte frame")]
    public void CompatibilityModeFaultUsesSixtyFourBitDelivery()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a, cs: User32), a => a.ud2(), userBitness: 32);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Cpu.Bitness, Is.EqualTo(64), "the handler runs in 64-bit mode");
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(Rsp0Top - 40));
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase));
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User32));
            Assert.That(h.Frame(3), Is.EqualTo(UserStackTop));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData));
        });
    }

    [TestCase(SystemDescriptorType.TaskGate, TestName = "IA-32e mode: INT n through a task gate raises #GP(vector*8+2): there are no task switches (SDM vol. 3, 7.7)")]
    [TestCase(SystemDescriptorType.InterruptGate16, TestName = "IA-32e mode: INT n through a 16-bit interrupt gate (type 6) raises #GP(vector*8+2)")]
    [TestCase(SystemDescriptorType.TrapGate16, TestName = "IA-32e mode: INT n through a 16-bit trap gate (type 7) raises #GP(vector*8+2)")]
    [TestCase(SystemDescriptorType.CallGate64, TestName = "IA-32e mode: INT n through a call gate in the IDT raises #GP(vector*8+2)")]
    public void OnlySixtyFourBitInterruptAndTrapGates(int type)
    {
        var h = new LongModeHarness();
        h.SetGate(0x80, new Gate(type, 0));
        h.RunToHalt(a => a.@int(0x80));
        h.AssertFault(X86Vector.GP, (0x80 * 8) + 2);
    }

    [TestCase(TestName = "SDM vol. 2, INT n: an exception through an invalid gate type raises #GP(vector*8+2+EXT): #UD through a task gate gives #GP(0x33)")]
    public void InvalidGateForAnExceptionSetsExt()
    {
        var h = new LongModeHarness();
        h.SetGate(6, new Gate(SystemDescriptorType.TaskGate, 0));
        h.RunToHalt(a => a.ud2());
        h.AssertFault(X86Vector.GP, (6 * 8) + 2 + 1);
    }

    [TestCase(TestName = "SDM vol. 2, INT n: the IDT limit must cover all 16 bytes of the gate: with a limit of 0x80*16+14, INT 0x80 raises #GP(0x402)")]
    public void IdtLimitCoversSixteenBytes()
    {
        var h = new LongModeHarness { IdtrLimit = (0x80 * 16) + 14 };
        h.RunToHalt(a => a.@int(0x80));
        h.AssertFault(X86Vector.GP, (0x80 * 8) + 2);
    }

    [TestCase(TestName = "SDM vol. 2, INT n: with the IDT limit at 0x80*16+15, INT 0x80 is delivered")]
    public void IdtLimitExactlyCoversTheGate()
    {
        var h = new LongModeHarness { IdtrLimit = (0x80 * 16) + 15 };
        h.RunToHalt(a => a.@int(0x80));
        Assert.That(h.Vector, Is.EqualTo(0x80));
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.1: a gate whose code segment is not 64-bit (a 32-bit code segment) raises #GP with the IDT vector as error code")]
    public void TargetMustBeSixtyFourBitCode()
    {
        var h = new LongModeHarness();
        h.SetGate(0x80, new Gate(Int, 0, Selector: Kernel32));
        h.RunToHalt(a => a.@int(0x80));
        h.AssertFault(X86Vector.GP, (0x80 * 8) + 2);
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.1: a gate whose code segment has L and D both set raises #GP with the IDT vector as error code")]
    public void TargetWithLAndDSetIsRefused()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.Flat(0xA, 0, big: true, longMode: true).Raw);
        h.SetGate(0x80, new Gate(Int, 0, Selector: 12 << 3));
        h.RunToHalt(a => a.@int(0x80));
        h.AssertFault(X86Vector.GP, (0x80 * 8) + 2);
    }

    [TestCase(TestName = "SDM vol. 2, INT n: a non-canonical target offset in the gate raises #GP(0) for INT n, with nothing pushed")]
    public void NonCanonicalGateOffsetIsGp()
    {
        var h = new LongModeHarness();
        h.SetGate(0x80, new Gate(Int, 0, Offset: 0x0000_8000_0000_0000));
        h.RunToHalt(a => a.@int(0x80));
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(1), Is.EqualTo((ulong)CodeBase), "RIP of the INT instruction: it faulted");
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 48), "only the #GP frame");
        });
    }

    [TestCase(TestName = "SDM vol. 2, INT n: a non-canonical gate offset for an exception raises #GP(EXT) = #GP(1)")]
    public void NonCanonicalGateOffsetForAnExceptionSetsExt()
    {
        var h = new LongModeHarness();
        h.SetGate(6, new Gate(Int, 0, Offset: 0xFFFF_7000_0000_0000));
        h.RunToHalt(a => a.ud2());
        h.AssertFault(X86Vector.GP, 1);
    }

    [TestCase(TestName = "SDM vol. 3, 6.12.1.1: INT n at CPL3 through a DPL0 64-bit gate raises #GP(vector*8+2), delivered on RSP0")]
    public void SoftwareInterruptChecksGateDpl()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a), a => a.@int(0x80));
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, (0x80 * 8) + 2);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)User64));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(Rsp0Top - 48));
        });
    }

    [TestCase(TestName = "SDM vol. 2, INT n: a not-present 64-bit gate raises #NP(vector*8+2)")]
    public void NotPresentGateIsNp()
    {
        var h = new LongModeHarness();
        h.SetGate(0x80, new Gate(Int, 0, Present: false));
        h.RunToHalt(a => a.@int(0x80));
        h.AssertFault(X86Vector.NP, (0x80 * 8) + 2);
    }

    [TestCase(TestName = "SDM vol. 2, INT n: a non-canonical RSP0 makes the frame non-canonical: #SS(EXT), here taken on an IST stack")]
    public void NonCanonicalRsp0IsStackFault()
    {
        var h = new LongModeHarness { Rsp0 = 0x0000_8000_0000_0020 }; // frame 0x7FFF_FFFF_FFF8..0x8000_0000_001F
        h.SetGate((int)X86Vector.SS, new Gate(Int, 0, Ist: 1));
        h.RunToHalt(a => EnterUser(a), a => a.ud2());
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.SS, 1);
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(IstTop(1) - 48));
            Assert.That(h.Frame(1), Is.EqualTo(UserCodeBase), "the #UD's instruction: the #SS replaced it");
            Assert.That(h.Frame(2), Is.EqualTo((ulong)User64));
        });
    }

    [TestCase(TestName = "SDM vol. 2, INT n: an IST slot beyond the 64-bit TSS limit raises #TS(TSS selector)")]
    public void IstBeyondTssLimitIsTs()
    {
        // IST2 lies at 0x2C..0x33: a limit of 0x2F cuts it.
        var h = new LongModeHarness { TssLimit = 0x2F };
        h.SetGate(3, new Gate(Int, 0, Ist: 2));
        h.RunToHalt(a => a.int3());
        h.AssertFault(X86Vector.TS, TssSelector);
    }

    [TestCase(TestName = "SMAP (SDM vol. 3, 4.6): the frame pushes of delivery are implicit supervisor accesses: with EFLAGS.AC set, INT3 on a user-page stack raises #PF(P|W), CR2 = the first slot")]
    public void DeliveryPushesAreImplicitSupervisorAccesses()
    {
        var h = new LongModeHarness { TablesOffset = 0x200000 };
        h.Ist[7] = SupervisorStackTop;
        h.SetGate((int)X86Vector.PF, new Gate(Int, 0, Ist: 7));
        h.RunToHalt(a =>
        {
            a.mov(rax, cr4);
            a.or(rax, (int)Cr4.SMAP);
            a.mov(cr4, rax);
            a.stac();
            a.int3();
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.PF, 0x3);
            Assert.That(h.Cpu.Cr2, Is.EqualTo(KernelStackTop - 8), "the SS slot, pushed first");
            Assert.That(h.Frame(1), Is.EqualTo(CodeBase + 15), "the INT3 (after MOV 3, OR imm32 6, MOV 3, STAC 3 bytes) did not complete");
            Assert.That(h.Frame(3) & RFlags.AC, Is.EqualTo((ulong)RFlags.AC));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14: a 64-bit interrupt gate clears IF, TF and NT; the frame holds the old RFLAGS")]
    public void InterruptGateClearsIf()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => a.int3(), rflags: RFlags.Reserved1 | RFlags.IF | RFlags.NT);
        Assert.Multiple(() =>
        {
            Assert.That(h.Frame(2), Is.EqualTo((ulong)(RFlags.Reserved1 | RFlags.IF | RFlags.NT)));
            Assert.That(h.Cpu.Eflags & (RFlags.IF | RFlags.NT), Is.Zero);
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14: a 64-bit trap gate leaves IF set")]
    public void TrapGateKeepsIf()
    {
        var h = new LongModeHarness();
        h.SetGate(3, new Gate(Trap, 0));
        h.RunToHalt(a => a.int3(), rflags: RFlags.Reserved1 | RFlags.IF);
        Assert.That(h.Cpu.Eflags & RFlags.IF, Is.EqualTo(RFlags.IF));
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.2: from compatibility mode at CPL0 (a 32-bit code segment) an interrupt pushes an 8-byte frame on the aligned stack")]
    public void CompatibilityModeCplZeroFrame()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 32, a =>
        {
            a.mov(esp, KernelStackTop - 4);
            a.int3();
        });
        h.RunToHalt(a =>
        {
            var far = a.CreateLabel();
            a.jmp(__fword_ptr[far]);
            a.Label(ref far);
            a.dd(TargetCode);
            a.dw(Kernel32);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(3));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 16 - 40), "0x8FFC aligned down to 0x8FF0");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)Kernel32));
            Assert.That(h.Frame(3), Is.EqualTo(KernelStackTop - 4));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)KernelData));
        });
    }
}
