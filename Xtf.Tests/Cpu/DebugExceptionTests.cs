using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Debug exceptions (SDM vol. 3, 18.2 and 18.3): the TF single-step trap, ICEBP, breakpoints in
/// DR0-DR3 under DR7, general detect, the RF flag, and the MOV SS / POP SS shadow (6.8.3).
/// Traced runs use a #DB handler that appends the saved EIP to a list at <see cref="CpuHarness.DataBase"/>
/// (EBX is the cursor) and returns with IRETD, which restores TF, so single-stepping goes on.
/// </summary>
[TestFixture]
public sealed class DebugExceptionTests
{
    /// <summary>DR6 after reset: every bit that reads as 1, and no condition flag (SDM vol. 3, 18.2.3).</summary>
    private const uint Dr6Initial = 0xFFFF0FF0;

    private static readonly uint[] None = [];

    /// <summary>Runs <paramref name="body"/> at CPL0 after EBX = list base, with the recording #DB handler; ends with HLT.</summary>
    private static (CpuHarness H, uint[] Trace) RunTraced(Action<Assembler> body, Action<CpuHarness>? setup = null)
    {
        var h = new CpuHarness();
        h.SetHandler((int)X86Vector.DB, a =>
        {
            a.mov(eax, __dword_ptr[esp]);
            a.mov(__dword_ptr[ebx], eax);
            a.add(ebx, 4);
            a.iretd();
        });
        setup?.Invoke(h);
        var stop = h.Run(a =>
        {
            a.mov(ebx, CpuHarness.DataBase);
            body(a);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        int count = (int)((h.Cpu.Ebx - CpuHarness.DataBase) / 4);
        var trace = new uint[count];
        for (int i = 0; i < count; i++)
            trace[i] = h.ReadU32(CpuHarness.DataBase + (uint)(4 * i));
        return (h, trace);
    }

    /// <summary>Emits PUSH imm32; POPFD, which sets EFLAGS to <paramref name="flags"/> at CPL0.</summary>
    private static void LoadFlags(Assembler a, uint flags)
    {
        a.push(flags | Reserved1);
        a.popfd();
    }

    [TestCase(TestName = "Single-step: POPF that sets TF is not trapped; each following instruction traps with EIP = the next one, a JMP with EIP = its target; the POPF that clears TF still traps")]
    public void SingleStepTrapsAfterEachInstruction()
    {
        Label afterNop = default, afterMov = default, target = default, afterPush = default, afterPopf = default;
        var (h, trace) = RunTraced(a =>
        {
            afterNop = a.CreateLabel();
            afterMov = a.CreateLabel();
            target = a.CreateLabel();
            afterPush = a.CreateLabel();
            afterPopf = a.CreateLabel();
            LoadFlags(a, TF);        // TF was clear when POPF started: no trap after it
            a.nop();
            a.Label(ref afterNop);
            a.mov(ecx, 5u);
            a.Label(ref afterMov);
            a.jmp(target);
            a.int3();                // skipped by the JMP
            a.Label(ref target);
            a.push(Reserved1);
            a.Label(ref afterPush);
            a.popfd();               // clears TF, but TF was set when it started: trapped
            a.Label(ref afterPopf);
            a.nop();                 // not trapped
        });
        Assert.Multiple(() =>
        {
            Assert.That(trace, Is.EqualTo(new[]
            {
                h.AddressOf(afterNop), h.AddressOf(afterMov), h.AddressOf(target), h.AddressOf(afterPush), h.AddressOf(afterPopf),
            }));
            Assert.That(h.Cpu.Ecx, Is.EqualTo(5u), "the stepped instructions executed");
            Assert.That(h.Cpu.Dr[6], Is.EqualTo((ulong)(Dr6Initial | DebugRegisters.BS)), "DR6.BS set by the single-step traps");
        });
    }

    [TestCase(TestName = "Single-step: REP MOVSB traps after each iteration, with EIP = the REP MOVSB until the last iteration (SDM vol. 3, 18.3.1.4)")]
    public void SingleStepRepeatedStringTrapsPerIteration()
    {
        Label rep = default, after = default, afterPush = default, afterPopf = default;
        var (h, trace) = RunTraced(a =>
        {
            rep = a.CreateLabel();
            after = a.CreateLabel();
            afterPush = a.CreateLabel();
            afterPopf = a.CreateLabel();
            a.mov(esi, CpuHarness.DataBase + 0x100);
            a.mov(edi, CpuHarness.DataBase + 0x200);
            a.mov(ecx, 3u);
            LoadFlags(a, TF);
            a.Label(ref rep);
            a.rep.movsb();
            a.Label(ref after);
            a.push(Reserved1);
            a.Label(ref afterPush);
            a.popfd();
            a.Label(ref afterPopf);
        }, h => h.WriteBytes(CpuHarness.DataBase + 0x100, [1, 2, 3]));
        Assert.Multiple(() =>
        {
            uint r = h.AddressOf(rep);
            Assert.That(trace, Is.EqualTo(new[] { r, r, h.AddressOf(after), h.AddressOf(afterPush), h.AddressOf(afterPopf) }));
            Assert.That(h.Cpu.Ecx, Is.Zero);
            Assert.That(h.ReadU32(CpuHarness.DataBase + 0x200) & 0xFFFFFF, Is.EqualTo(0x030201u), "all three bytes copied");
        });
    }

    [TestCase(TestName = "Single-step #DB is a trap: saved EIP = the next instruction, saved EFLAGS has TF and RF = 0, DR6 = 0xFFFF4FF0, TF cleared in the handler")]
    public void SingleStepFrame()
    {
        var h = new CpuHarness();
        var stop = h.Run(a =>
        {
            a.mov(eax, 0x12345678u); // 5 bytes at CodeBase, TF set from the start
            a.hlt();
        }, eflags: TF | CF);
        Assert.Multiple(() =>
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DB));
            Assert.That(h.Frame(0), Is.EqualTo(CpuHarness.CodeBase + 5), "saved EIP after the MOV");
            Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | TF | CF), "saved EFLAGS: TF set, RF as EFLAGS had it (0)");
            Assert.That(h.Cpu.Eflags & TF, Is.EqualTo(0u), "delivery clears TF");
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x12345678u));
            Assert.That(h.Cpu.Dr[6], Is.EqualTo(0xFFFF4FF0ul), "BS (bit 14) over the fixed bits");
        });
    }

    [TestCase("ud2", X86Vector.UD, TestName = "Single-step over UD2 delivers #UD (a fault), not #DB; saved EFLAGS has TF and RF; DR6 untouched")]
    [TestCase("div", X86Vector.DE, TestName = "Single-step over DIV by zero delivers #DE (a fault), not #DB; saved EFLAGS has TF and RF; DR6 untouched")]
    public void SingleStepOverFaultingInstruction(string form, X86Vector vector)
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            if (form == "ud2")
                a.ud2();
            else
                a.div(ecx); // ECX = 0
            a.hlt();
        }, eflags: TF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)vector));
            Assert.That(h.Frame(0), Is.EqualTo(CpuHarness.CodeBase), "saved EIP = the faulting instruction");
            // SDM vol. 3, 18.3.1.1: the image of a fault-class exception has RF = 1.
            Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | TF | RF), "saved EFLAGS");
            Assert.That(h.Cpu.Eflags & (TF | RF), Is.EqualTo(0u), "TF and RF cleared for the handler");
            Assert.That(h.Cpu.Dr[6], Is.EqualTo((ulong)Dr6Initial), "no single-step condition recorded");
        });
    }

    [TestCase("int 0x80", TestName = "Single-step over INT 0x80: delivery clears TF, no #DB at the handler, the handler is not stepped; stepping resumes after IRETD's next instruction")]
    [TestCase("int3", TestName = "Single-step over INT3: no #DB for the INT3 nor in its handler; stepping resumes after the instruction following it")]
    [TestCase("into", TestName = "Single-step over INTO with OF set: no #DB for the INTO nor in its handler")]
    public void SingleStepOverSoftwareInterrupt(string form)
    {
        int vector = form switch { "int 0x80" => 0x80, "int3" => 3, _ => 4 };
        Label afterNop = default, afterPush = default, afterPopf = default;
        var (h, trace) = RunTraced(
            a =>
            {
                afterNop = a.CreateLabel();
                afterPush = a.CreateLabel();
                afterPopf = a.CreateLabel();
                LoadFlags(a, TF | OF);
                switch (form)
                {
                    case "int 0x80": a.@int(0x80); break;
                    case "int3": a.int3(); break;
                    default: a.into(); break;
                }

                a.nop();
                a.Label(ref afterNop);
                a.push(Reserved1);
                a.Label(ref afterPush);
                a.popfd();
                a.Label(ref afterPopf);
            },
            h => h.SetHandler(vector, a =>
            {
                a.inc(ecx);
                a.inc(ecx);
                a.iretd();
            }));
        Assert.Multiple(() =>
        {
            // The IRETD started with TF clear (the handler runs with TF = 0), so it is not trapped;
            // the NOP after the interrupt is the first stepped instruction.
            Assert.That(trace, Is.EqualTo(new[] { h.AddressOf(afterNop), h.AddressOf(afterPush), h.AddressOf(afterPopf) }));
            Assert.That(h.Cpu.Ecx, Is.EqualTo(2u), "the handler ran once, both INCs");
        });
    }

    [TestCase(TestName = "INTO with OF clear does nothing and is single-stepped like any instruction")]
    public void SingleStepOverIntoWithoutOverflow()
    {
        Label afterInto = default, afterPush = default, afterPopf = default;
        var (h, trace) = RunTraced(a =>
        {
            afterInto = a.CreateLabel();
            afterPush = a.CreateLabel();
            afterPopf = a.CreateLabel();
            LoadFlags(a, TF);
            a.into();
            a.Label(ref afterInto);
            a.push(Reserved1);
            a.Label(ref afterPush);
            a.popfd();
            a.Label(ref afterPopf);
        });
        Assert.That(trace, Is.EqualTo(new[] { h.AddressOf(afterInto), h.AddressOf(afterPush), h.AddressOf(afterPopf) }));
    }

    [TestCase(false, TestName = "ICEBP (F1) delivers #DB as a trap after the F1 and leaves DR6 as it was (no B0-B3, BD, BS or BT)")]
    [TestCase(true, TestName = "ICEBP with TF set: the one #DB is ICEBP's; the single-step trap of the F1 is discarded, DR6.BS stays clear")]
    public void IcebpLeavesDr6Unchanged(bool singleStep)
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.int1();
            a.hlt();
        }, eflags: singleStep ? TF : 0);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DB));
            Assert.That(h.Frame(0), Is.EqualTo(CpuHarness.CodeBase + 1), "saved EIP after the one-byte F1");
            Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | (singleStep ? TF : 0)), "saved EFLAGS, RF = 0");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop - 12), "one delivery, no error code");
            Assert.That(h.Cpu.Dr[6], Is.EqualTo((ulong)Dr6Initial));
        });
    }

    [TestCase("mov ss", TestName = "MOV SS with TF set: its single-step trap is held to the boundary after the next instruction, one #DB with EIP after that instruction")]
    [TestCase("pop ss", TestName = "POP SS with TF set: its single-step trap is held to the boundary after the next instruction, one #DB with EIP after that instruction")]
    [TestCase("mov ds", TestName = "MOV DS with TF set (no shadow): traps after itself and after the next instruction")]
    [TestCase("sti", TestName = "STI with TF set: the STI shadow holds off external interrupts only, the single-step trap is taken after the STI")]
    public void StackSegmentShadowHoldsSingleStep(string form)
    {
        Label afterLoad = default, afterNop = default;
        var (h, trace) = RunTraced(a =>
        {
            afterLoad = a.CreateLabel();
            afterNop = a.CreateLabel();
            a.mov(eax, (uint)CpuHarness.KernelData);
            a.push(eax);
            LoadFlags(a, TF);        // POPFD pops the flags pushed by LoadFlags, leaving KernelData on the stack
            switch (form)
            {
                case "mov ss": a.mov(ss, ax); break;
                case "pop ss": a.pop(ss); break;
                case "mov ds": a.mov(ds, ax); break;
                default: a.sti(); break;
            }

            a.Label(ref afterLoad);
            a.nop();
            a.Label(ref afterNop);
            a.push(Reserved1);
            a.popfd();
        });
        uint[] expectedHead = form is "mov ss" or "pop ss"
            ? [h.AddressOf(afterNop)]
            : [h.AddressOf(afterLoad), h.AddressOf(afterNop)];
        Assert.That(trace.Take(expectedHead.Length), Is.EqualTo(expectedHead));
        Assert.That(trace, Has.Length.EqualTo(expectedHead.Length + 2), "then the PUSH and the POPFD are stepped");
    }

    /// <summary>Where the instruction-breakpoint tests place their code, away from the kernel snippet.</summary>
    private const uint BreakpointTarget = CpuHarness.CodeBase + 0x800;

    /// <summary>DR0 = <see cref="BreakpointTarget"/>, DR7 = L0 with R/W0 = 00 (execute) and LEN0 = 00, then JMP there.</summary>
    private static void ArmInstructionBreakpointAndJump(Assembler a)
    {
        a.mov(esi, BreakpointTarget);
        a.mov(dr0, esi);
        a.mov(eax, 1u);
        a.mov(dr7, eax);
        a.jmp(esi);
    }

    [TestCase(TestName = "Instruction breakpoint (DR0, R/W = 00, L0) is a fault: saved EIP = the instruction, not executed, DR6.B0 set, saved RF = 0")]
    public void InstructionBreakpointIsAFault()
    {
        var h = new CpuHarness();
        h.Load(BreakpointTarget, a =>
        {
            a.mov(ecx, 0x55u);
            a.hlt();
        });
        h.Run(a => ArmInstructionBreakpointAndJump(a));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DB));
            Assert.That(h.Frame(0), Is.EqualTo(BreakpointTarget), "saved EIP = the breakpointed instruction");
            Assert.That(h.Frame(2) & RF, Is.EqualTo(0u), "no RF in the image of an instruction-breakpoint #DB");
            Assert.That(h.Cpu.Ecx, Is.EqualTo(0u), "the instruction did not execute");
            Assert.That(h.Cpu.Dr[6], Is.EqualTo((ulong)(Dr6Initial | DebugRegisters.B0)));
        });
    }

    [TestCase(TestName = "RF set in the #DB image suppresses the instruction breakpoint for one instruction; RF is cleared once it completes, so the breakpoint fires again on the next pass")]
    public void ResumeFlagSuppressesInstructionBreakpointOnce()
    {
        var h = new CpuHarness();
        h.SetHandler((int)X86Vector.DB, a =>
        {
            a.inc(edi);
            a.or(__dword_ptr[esp + 8], (int)RF);
            a.iretd();
        });
        h.Load(BreakpointTarget, a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(edx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var stop = h.Run(a =>
        {
            a.mov(ecx, 3u);
            ArmInstructionBreakpointAndJump(a);
        });
        Assert.Multiple(() =>
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(h.Vector, Is.Null, "halted in the kernel code");
            Assert.That(h.Cpu.Edi, Is.EqualTo(3u), "one #DB per pass");
            Assert.That(h.Cpu.Edx, Is.EqualTo(3u), "each pass executed the instruction once");
            Assert.That(h.Cpu.Eflags & RF, Is.EqualTo(0u), "RF cleared after the instruction completed");
        });
    }

    [TestCase(TestName = "Data write breakpoint (DR1, R/W = 01, LEN = 4 bytes) is a trap after the writing instruction: saved EIP = next, DR6.B1; reads do not trigger it")]
    public void DataWriteBreakpointIsATrap()
    {
        const uint watched = CpuHarness.DataBase + 0x100;
        var h = new CpuHarness();
        Label afterWrite = default;
        h.Run(a =>
        {
            afterWrite = a.CreateLabel();
            a.mov(eax, watched);
            a.mov(dr1, eax);
            a.mov(eax, (1u << 2) | (1u << 20) | (3u << 22)); // L1, R/W1 = 01, LEN1 = 11
            a.mov(dr7, eax);
            a.mov(eax, __dword_ptr[watched]);                 // a read: no trap
            a.mov(__byte_ptr[watched + 3], 0x77);             // a write to the last byte of the range
            a.Label(ref afterWrite);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DB));
            Assert.That(h.Frame(0), Is.EqualTo(h.AddressOf(afterWrite)), "saved EIP after the write");
            Assert.That(h.ReadU8(watched + 3), Is.EqualTo(0x77), "the write completed");
            Assert.That(h.Cpu.Dr[6], Is.EqualTo((ulong)(Dr6Initial | DebugRegisters.B1)));
        });
    }

    [TestCase(TestName = "MOV from DR6 with DR7.GD set raises #DB as a fault with DR6.BD; GD is cleared for the handler; saved RF = 1")]
    public void GeneralDetectFaultsOnMovDr()
    {
        var h = new CpuHarness();
        Label access = default;
        h.Run(a =>
        {
            access = a.CreateLabel();
            a.mov(eax, DebugRegisters.GD);
            a.mov(dr7, eax);
            a.Label(ref access);
            a.mov(ecx, dr6);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DB));
            Assert.That(h.Frame(0), Is.EqualTo(h.AddressOf(access)), "saved EIP = the MOV DR");
            Assert.That(h.Frame(2) & RF, Is.EqualTo(RF), "a fault-class #DB: RF = 1 in the image");
            Assert.That(h.Cpu.Dr[6], Is.EqualTo((ulong)(Dr6Initial | DebugRegisters.BD)));
            Assert.That(h.Cpu.Dr[7], Is.EqualTo(0x400ul), "GD cleared on entry to the handler");
        });
    }

    [TestCase(0x00000000u, 0xFFFF0FF0u, TestName = "MOV DR6, 0 reads back 0xFFFF0FF0: bits 4-11 and 16-31 read as 1, bit 12 as 0")]
    [TestCase(0xFFFFFFFFu, 0xFFFFEFFFu, TestName = "MOV DR6, 0xFFFFFFFF reads back 0xFFFFEFFF: B0-B3, BD, BS, BT writable, bit 12 reads 0")]
    public void Dr6FixedBits(uint written, uint expected)
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(eax, written);
            a.mov(dr6, eax);
            a.mov(ecx, dr6);
            a.hlt();
        });
        Assert.That(h.Cpu.Ecx, Is.EqualTo(expected));
    }

    [TestCase(TestName = "MOV DR7 keeps bit 10 at 1 and bits 11, 12, 14, 15 at 0; DR7 reads 0x400 after reset")]
    public void Dr7FixedBits()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(esi, dr7);
            a.mov(eax, 0x0000D800u); // bits 11, 12, 14, 15; GD (13) clear
            a.mov(dr7, eax);
            a.mov(ecx, dr7);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Esi, Is.EqualTo(0x400u), "reset value");
            Assert.That(h.Cpu.Ecx, Is.EqualTo(0x400u));
        });
    }

    [TestCase(TestName = "Without TF or breakpoints no #DB is raised and DR6 stays at its reset value")]
    public void NoDebugExceptionWithoutConditions()
    {
        var (h, trace) = RunTraced(a =>
        {
            a.nop();
            a.mov(ecx, 1u);
        });
        Assert.Multiple(() =>
        {
            Assert.That(trace, Is.EqualTo(None));
            Assert.That(h.Cpu.Dr[6], Is.EqualTo((ulong)Dr6Initial));
        });
    }

    /// <summary>Emits WRMSR of IA32_DEBUGCTL (1D9H) with <paramref name="value"/>.</summary>
    private static void WriteDebugCtl(Assembler a, uint value)
    {
        a.mov(ecx, DebugCtl.Msr);
        a.mov(eax, value);
        a.xor(edx, edx);
        a.wrmsr();
    }

    [TestCase(TestName = "DEBUGCTL.BTF: with TF, only taken branches trap (a not-taken Jcc does not, a taken one does); #DB clears BTF and LBR, so stepping goes on per instruction (SDM vol. 3, 18.4.3, 18.4.2)")]
    public void BtfSingleStepsOnTakenBranches()
    {
        Label target = default, afterNop = default, afterPush = default, afterPopf = default, skipped = default;
        var (h, trace) = RunTraced(a =>
        {
            target = a.CreateLabel();
            afterNop = a.CreateLabel();
            afterPush = a.CreateLabel();
            afterPopf = a.CreateLabel();
            skipped = a.CreateLabel();
            WriteDebugCtl(a, (uint)(DebugCtl.Btf | DebugCtl.Lbr));
            LoadFlags(a, TF);
            a.nop();                 // not a branch: no trap under BTF
            a.cmp(eax, eax);
            a.jne(skipped);          // not taken: no trap
            a.je(target);            // taken: the one trap under BTF, which clears BTF
            a.Label(ref skipped);
            a.int3();
            a.Label(ref target);
            a.nop();                 // ordinary single-step from here on
            a.Label(ref afterNop);
            a.push(Reserved1);
            a.Label(ref afterPush);
            a.popfd();
            a.Label(ref afterPopf);
        });
        Assert.Multiple(() =>
        {
            Assert.That(trace, Is.EqualTo(new[] { h.AddressOf(target), h.AddressOf(afterNop), h.AddressOf(afterPush), h.AddressOf(afterPopf) }));
            Assert.That(h.Cpu.DebugCtlValue, Is.Zero, "#DB clears BTF and LBR");
        });
    }

    [TestCase(TestName = "IA32_DEBUGCTL reads 0 after reset, reads back LBR|BTF, and a bit the CPU does not implement (TR, bit 6) is #GP(0) leaving it unchanged")]
    public void DebugCtlReadWriteAndReservedBits()
    {
        var h = new CpuHarness();
        h.SetHandler((int)X86Vector.GP, a => a.hlt());
        h.Run(a =>
        {
            a.mov(ecx, DebugCtl.Msr);
            a.rdmsr();
            a.mov(esi, eax);
            WriteDebugCtl(a, (uint)(DebugCtl.Lbr | DebugCtl.Btf));
            a.rdmsr();
            a.mov(edi, eax);
            a.mov(ebx, 0u);
            WriteDebugCtl(a, (uint)DebugCtl.Tr);
            a.mov(ebx, 1u);          // not reached: the #GP handler halts
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Esi, Is.Zero, "reset value (SDM vol. 3, table 10-1)");
            Assert.That(h.Cpu.Edi, Is.EqualTo((uint)(DebugCtl.Lbr | DebugCtl.Btf)));
            Assert.That(h.Cpu.Ebx, Is.Zero, "WRMSR of TR faulted");
            Assert.That(h.Cpu.DebugCtlValue, Is.EqualTo(DebugCtl.Lbr | DebugCtl.Btf));
        });
    }
}
