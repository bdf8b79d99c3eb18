using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Virtual-8086 mode (SDM vol. 3, chapter 20). Ring 0 enters it with IRETD and VM set in the
/// EFLAGS image (SDM: IRET, RETURN-TO-VIRTUAL-8086-MODE), from the frame EIP, CS, EFLAGS, ESP,
/// SS, ES, DS, FS, GS. The 16-bit code runs at CS = 0x1200 (linear 0x12000), SS:SP = 0x1300:0x0F00.
/// Leaving it by an interrupt to a ring-0 handler (20.3.1.1) pushes on the TSS's ring-0 stack,
/// highest address first: GS, FS, DS, ES, SS, ESP, EFLAGS, CS, EIP [, error code].
/// </summary>
[TestFixture]
public sealed class Virtual8086Tests
{
    private const ushort V86Code = 0x1200, V86Stack = 0x1300, V86Data = 0x2000, V86Extra = 0x2100;
    private const uint V86Sp = 0x0F00;
    private const uint Ring0Top = CpuHarness.Ring0StackTop;

    /// <summary>Assembles 16-bit code at linear V86Code * 16.</summary>
    private static void LoadV86(TaskHarness t, Action<Assembler> emit)
    {
        var a = new Assembler(16);
        emit(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), (ulong)V86Code << 4);
        t.H.WriteBytes((uint)V86Code << 4, stream.ToArray());
    }

    /// <summary>Pushes the RETURN-TO-VIRTUAL-8086-MODE frame and IRETDs.</summary>
    private static void EnterV86(Assembler a, uint eflags, uint eip = 0)
    {
        a.push((uint)0x2300); // GS
        a.push((uint)0x2200); // FS
        a.push((uint)V86Data); // DS
        a.push((uint)V86Extra); // ES
        a.push((uint)V86Stack); // SS
        a.push(V86Sp);
        a.push(eflags | VM | Reserved1);
        a.push((uint)V86Code);
        a.push(eip);
        a.iretd();
    }

    private static TaskHarness RunV86(Action<Assembler> v86, uint eflags, Action<TaskHarness>? setup = null)
    {
        var t = new TaskHarness();
        setup?.Invoke(t);
        LoadV86(t, v86);
        var stop = t.Run(a => EnterV86(a, eflags));
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return t;
    }

    /// <summary>
    /// Asserts the interrupt-from-V86 frame on the ring-0 stack (offset 1 when an error code is on top).
    /// The EFLAGS image of a fault has RF set (SDM vol. 3, 18.3.1.1); of a trap or INT n, as it was.
    /// </summary>
    private static void AssertV86Frame(TaskHarness t, int vector, uint eip, uint? errorCode, uint eflagsImage)
    {
        var h = t.H;
        int o = errorCode.HasValue ? 1 : 0;
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(vector), "vector");
            Assert.That(h.Cpu.Esp, Is.EqualTo(Ring0Top - (uint)(4 * (9 + o))), "nine dwords [+ error code] on SS0:ESP0");
            if (errorCode is { } ec)
                Assert.That(h.Frame(0), Is.EqualTo(ec), "error code");
            Assert.That(h.Frame(o + 0), Is.EqualTo(eip), "EIP");
            Assert.That(h.Frame(o + 1), Is.EqualTo((uint)V86Code), "CS");
            Assert.That(h.Frame(o + 2), Is.EqualTo(eflagsImage), "EFLAGS with VM set");
            Assert.That(h.Frame(o + 3), Is.EqualTo(V86Sp), "ESP");
            Assert.That(h.Frame(o + 4), Is.EqualTo((uint)V86Stack), "SS");
            Assert.That(h.Frame(o + 5), Is.EqualTo((uint)V86Extra), "ES");
            Assert.That(h.Frame(o + 6), Is.EqualTo((uint)V86Data), "DS");
            Assert.That(h.Frame(o + 7), Is.EqualTo(0x2200u), "FS");
            Assert.That(h.Frame(o + 8), Is.EqualTo(0x2300u), "GS");
            Assert.That(h.Cpu.Cpl, Is.EqualTo(0), "handler at CPL0");
            Assert.That(h.Cpu.Virtual8086, Is.False, "VM cleared");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(CpuHarness.KernelData), "SS0 from the TSS");
            foreach (int seg in (int[])[X86Cpu.DS, X86Cpu.ES, X86Cpu.FS, X86Cpu.GS])
            {
                Assert.That(h.Cpu.Segments[seg].Selector, Is.EqualTo((ushort)0), $"segment {seg} loaded with null");
                Assert.That(h.Cpu.Segments[seg].Usable, Is.False, $"segment {seg} unusable");
            }
        });
    }

    [TestCase(TestName = "IRETD at CPL0 with VM in the image enters V86: bases = selector * 16, limit 0xFFFF, CPL 3; INT n at IOPL 3 leaves with the nine-dword frame")]
    public void IretEntersAndInterruptLeaves()
    {
        var t = RunV86(a =>
        {
            a.mov(ax, 0x1234);
            a.mov(__word_ptr[0x10], ax); // DS:0x10 = 0x20010
            a.mov(__word_ptr.es[0x10], ax); // ES:0x10 = 0x21010
            a.@int(CpuHarness.ExitVector);
        }, IOPL);
        AssertV86Frame(t, CpuHarness.ExitVector, eip: 3 + 3 + 4 + 2, errorCode: null, eflagsImage: Reserved1 | VM | IOPL);
        Assert.Multiple(() =>
        {
            Assert.That(t.H.ReadU32(0x20010) & 0xFFFF, Is.EqualTo(0x1234u), "DS base 0x2000 * 16");
            Assert.That(t.H.ReadU32(0x21010) & 0xFFFF, Is.EqualTo(0x1234u), "ES base 0x2100 * 16");
            Assert.That(t.Cpu.Eflags & IF, Is.EqualTo(0u), "trap gate 0x81 keeps IF (clear here)");
        });
    }

    [TestCase(TestName = "A fault in V86 with an error code (#GP(0) from CLI at IOPL 0) pushes ten dwords, error code last")]
    public void FaultWithErrorCodeFrame()
    {
        var t = RunV86(a => a.cli(), 0);
        AssertV86Frame(t, (int)X86Vector.GP, eip: 0, errorCode: 0, eflagsImage: Reserved1 | VM | RF);
    }

    [TestCase("cli", TestName = "CLI in V86 at IOPL 0 raises #GP(0) (SDM 20.2.7)")]
    [TestCase("sti", TestName = "STI in V86 at IOPL 0 raises #GP(0)")]
    [TestCase("pushf", TestName = "PUSHF in V86 at IOPL 0 raises #GP(0)")]
    [TestCase("popf", TestName = "POPF in V86 at IOPL 0 raises #GP(0)")]
    [TestCase("int n", TestName = "INT n in V86 at IOPL 0 raises #GP(0), not a gate fault")]
    [TestCase("iret", TestName = "IRET in V86 at IOPL 0 raises #GP(0)")]
    public void IoplSensitiveInstructionsTrap(string form)
    {
        var t = RunV86(a =>
        {
            switch (form)
            {
                case "cli": a.cli(); break;
                case "sti": a.sti(); break;
                case "pushf": a.pushf(); break;
                case "popf": a.popf(); break;
                case "int n": a.@int(CpuHarness.ExitVector); break;
                default: a.iret(); break;
            }
        }, IOPL & (1u << 12)); // IOPL 1: still below 3
        AssertV86Frame(t, (int)X86Vector.GP, eip: 0, errorCode: 0, eflagsImage: Reserved1 | VM | RF | (1u << 12));
    }

    [TestCase(TestName = "At IOPL 3, CLI, PUSHF and POPF execute in V86: PUSHF pushes FLAGS, POPF cannot change IOPL")]
    public void IoplThreeAllowsFlagInstructions()
    {
        var t = RunV86(a =>
        {
            a.cli();
            a.pushf();
            a.pop(bx);
            a.push(0x0002); // IOPL 0, IF 0
            a.popf();
            a.@int(CpuHarness.ExitVector);
        }, IOPL | IF);
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(t.Cpu.Ebx & 0xFFFF, Is.EqualTo(Reserved1 | IOPL), "FLAGS image: IF cleared by CLI, IOPL 3");
            Assert.That(t.H.Frame(2), Is.EqualTo(Reserved1 | VM | IOPL), "POPF in V86 keeps IOPL 3");
        });
    }

    [TestCase(TestName = "INT3 in V86 at IOPL 0 is not IOPL-sensitive: #BP through a DPL3 gate, saved EIP after the CC")]
    public void Int3IsNotIoplSensitive()
    {
        var t = RunV86(a => a.int3(), 0, s => s.H.SetGate((int)X86Vector.BP, SystemDescriptorType.InterruptGate32, 3));
        AssertV86Frame(t, (int)X86Vector.BP, eip: 1, errorCode: null, eflagsImage: Reserved1 | VM);
    }

    [TestCase(TestName = "INT3 in V86 through a DPL0 gate raises #GP(0x1A): the gate DPL check still applies at CPL 3")]
    public void Int3GateDplCheck()
    {
        var t = RunV86(a => a.int3(), 0);
        AssertV86Frame(t, (int)X86Vector.GP, eip: 0, errorCode: 0x1A, eflagsImage: Reserved1 | VM | RF);
    }

    [TestCase(TestName = "INT n from V86 through a gate to a DPL3 code segment raises #GP(0x18) (SDM: INT n, VM = 1 needs a DPL-0 handler)")]
    public void InterruptToNonRingZeroHandler()
    {
        var t = RunV86(a => a.@int(0x90), IOPL,
            s => s.Gate(0x90, SystemDescriptorType.InterruptGate32, CpuHarness.UserCode, CpuHarness.UserCodeBase, 3));
        AssertV86Frame(t, (int)X86Vector.GP, eip: 0, errorCode: 0x18, eflagsImage: Reserved1 | VM | RF | IOPL);
    }

    [TestCase(TestName = "OUT in V86 at IOPL 3 still consults the I/O bitmap: without one it raises #GP(0) (SDM 20.2.8.1)")]
    public void PortIoIgnoresIopl()
    {
        var t = RunV86(a => a.@out(0xE9, al), IOPL);
        AssertV86Frame(t, (int)X86Vector.GP, eip: 0, errorCode: 0, eflagsImage: Reserved1 | VM | RF | IOPL);
        Assert.That(t.H.Vm.Log.Length, Is.EqualTo(0));
    }

    [TestCase(TestName = "OUT in V86 at IOPL 0 succeeds when the I/O bitmap clears the port")]
    public void PortIoAllowedByBitmap()
    {
        var t = RunV86(
            a =>
            {
                a.mov(al, (byte)'V');
                a.@out(0xE9, al);
                a.cli(); // ends the run with #GP(0)
            },
            0,
            s => s.H.TssLimit = 0x68 + 0x20); // bitmap at 0x68 covering ports 0-0xFF, all zeros: allowed
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(t.H.Frame(1), Is.EqualTo(4u), "the fault is the CLI after MOV AL and OUT");
            Assert.That(t.H.Vm.Log.Text, Is.EqualTo("V"));
        });
    }

    [TestCase(TestName = "MOV DS in V86 loads base = selector * 16 without descriptor checks")]
    public void SegmentLoadInV86()
    {
        var t = RunV86(a =>
        {
            a.mov(ax, 0x2345);
            a.mov(ds, ax);
            a.mov(__word_ptr[0x4], ax); // 0x23454
            a.@int(CpuHarness.ExitVector);
        }, IOPL);
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(t.H.ReadU32(0x23454) & 0xFFFF, Is.EqualTo(0x2345u));
            Assert.That(t.H.Frame(6), Is.EqualTo(0x2345u), "saved DS");
        });
    }

    [TestCase(TestName = "IRETD to V86 with EIP above 0xFFFF raises #GP(0) and leaves ring 0 untouched")]
    public void IretToV86EipBeyondLimit()
    {
        var t = new TaskHarness();
        Label at = default;
        t.Run(a =>
        {
            at = a.CreateLabel();
            a.push((uint)0);
            a.push((uint)0);
            a.push((uint)0);
            a.push((uint)0);
            a.push((uint)V86Stack);
            a.push(V86Sp);
            a.push(VM | Reserved1);
            a.push((uint)V86Code);
            a.push(0x10000u);
            a.Label(ref at);
            a.iretd();
        });
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(t.H.Frame(0), Is.EqualTo(0u));
            Assert.That(t.H.Frame(1), Is.EqualTo(t.H.AddressOf(at)), "fault at the IRETD");
            Assert.That(t.H.Frame(4), Is.EqualTo(0x10000u), "the V86 frame is still on the stack above the #GP frame");
            Assert.That(t.Cpu.Virtual8086, Is.False);
        });
    }

    [TestCase(TestName = "A task switch to a TSS with EFLAGS.VM enters V86: segments loaded as selector * 16 without checks")]
    public void TaskSwitchIntoV86()
    {
        var t = new TaskHarness();
        t.B.Eflags = Reserved1 | VM | IOPL;
        t.B.Eip = 0;
        t.B.Esp = V86Sp;
        t.B.Cs = V86Code;
        t.B.Ss = V86Stack;
        t.B.Es = V86Extra;
        t.B.Ds = V86Data;
        t.B.Fs = 0x2200;
        t.B.Gs = 0x2300;
        t.TaskGate(0x40, TaskHarness.TaskB);
        LoadV86(t, a => a.@int(CpuHarness.ExitVector));
        var stop = t.Run(a => a.@int(0x40));
        Assert.That(stop, Is.EqualTo(StopReason.Halted), $"rip {t.Cpu.Rip:x} cs {t.Cpu.Segments[X86Cpu.CS]} eflags {t.Cpu.Eflags:x}");
        AssertV86Frame(t, CpuHarness.ExitVector, eip: 2, errorCode: null, eflagsImage: Reserved1 | VM | IOPL | NT);
        Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.TaskB));
    }
}
