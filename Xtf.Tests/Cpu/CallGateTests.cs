using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.DescriptorKit;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Far CALL and JMP through call gates, to conforming code and to tasks, and far RET to an outer
/// level (SDM vol. 2, CALL, JMP and RET pseudo-code; vol. 3, 5.8). The user code calls gate 0x43
/// (entry 8, RPL 3); the harness's TSS gives SS0:ESP0 = 0x10:0x9000.
/// </summary>
[TestFixture]
public sealed class CallGateTests
{
    private const ushort Gate = Sel8 | 3;
    private const uint CallLength = 7; // 9A id iw
    private const uint ReturnEip = CpuHarness.UserCodeBase + CallLength;

    private static SegmentDescriptor CallGate32(ushort code, uint offset, int dpl = 3, int count = 0, bool present = true) =>
        SegmentDescriptor.Gate(SystemDescriptorType.CallGate32, code, offset, dpl, present, count);

    private static Action<CpuHarness> Gate32To(ushort code, uint offset = TargetCode, int dpl = 3, int count = 0) => h =>
    {
        SetDescriptor(h, 8, CallGate32(code, offset, dpl, count));
        h.Load(TargetCode, a => a.hlt());
    };

    [TestCase(TestName = "CALL through a DPL3 32-bit call gate to DPL0 code switches to SS0:ESP0 and pushes SS, ESP, CS, EIP (SDM figure 5-13)")]
    public void CallGateToRing0SwitchesStack()
    {
        var h = RunUser(a => CallFar(a, Gate, 0xDEAD), Gate32To(CpuHarness.KernelCode));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1), "ran the gate's entry point (the offset in the instruction is ignored)");
            Assert.That(h.Cpu.Cpl, Is.EqualTo(0));
            Assert.That(h.Cpu.Segments[X86Cpu.CS].Selector, Is.EqualTo(CpuHarness.KernelCode), "CS = the gate's selector with RPL = new CPL");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(CpuHarness.KernelData), "SS0 from the TSS");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.Ring0StackTop - 16));
            Assert.That(h.Frame(0), Is.EqualTo(ReturnEip), "return EIP");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.UserCode), "caller CS");
            Assert.That(h.Frame(2), Is.EqualTo(CpuHarness.UserStackTop), "caller ESP");
            Assert.That(h.Frame(3), Is.EqualTo((uint)CpuHarness.UserData), "caller SS");
        });
    }

    [TestCase(TestName = "A 32-bit call gate with a count of 2 copies two dwords from the caller's stack, in order, between SS:ESP and CS:EIP")]
    public void CallGateCopiesDwordParameters()
    {
        // Caller: push 0x1111; push 0x2222 -> [ESP] = 0x2222, [ESP+4] = 0x1111, ESP = 0x9FF8.
        // New stack, top down: SS, ESP, 0x1111, 0x2222, CS, EIP.
        var h = RunUser(a =>
        {
            a.push(0x1111);
            a.push(0x2222);
            CallFar(a, Gate, 0);
        }, Gate32To(CpuHarness.KernelCode, count: 2));
        uint ret = CpuHarness.UserCodeBase + 5 + 5 + CallLength;
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.Ring0StackTop - 24));
            Assert.That(h.Frame(0), Is.EqualTo(ret), "return EIP");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.UserCode), "caller CS");
            Assert.That(h.Frame(2), Is.EqualTo(0x2222u), "parameter 0 (the caller's [ESP])");
            Assert.That(h.Frame(3), Is.EqualTo(0x1111u), "parameter 1 (the caller's [ESP+4])");
            Assert.That(h.Frame(4), Is.EqualTo(CpuHarness.UserStackTop - 8), "caller ESP");
            Assert.That(h.Frame(5), Is.EqualTo((uint)CpuHarness.UserData), "caller SS");
        });
    }

    [TestCase(TestName = "A 16-bit call gate pushes 16-bit slots and copies its count of words: SS, SP, params, CS, IP")]
    public void CallGate16CopiesWordParameters()
    {
        // Caller pushes the dword 0x22221111: word parameter 0 = 0x1111, parameter 1 = 0x2222; SP = 0x9FFC.
        // Return IP = (0x11000 + 5 + 7) & 0xFFFF = 0x100C.
        var h = RunUser(a =>
        {
            a.push(0x22221111);
            CallFar(a, Gate, 0);
        }, h =>
        {
            SetDescriptor(h, 8, SegmentDescriptor.Gate(SystemDescriptorType.CallGate16, CpuHarness.KernelCode, TargetCode16, 3, true, 2));
            h.Load(TargetCode16, a => a.hlt());
        });
        uint sp = CpuHarness.Ring0StackTop - 12;
        ushort Word(int n) => (ushort)h.Cpu.ReadPhysical(sp + (uint)(2 * n), 2);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode16 + 1));
            Assert.That(h.Cpu.Esp, Is.EqualTo(sp), "6 words on the new stack");
            Assert.That(Word(0), Is.EqualTo((ushort)0x100C), "return IP");
            Assert.That(Word(1), Is.EqualTo(CpuHarness.UserCode), "caller CS");
            Assert.That(Word(2), Is.EqualTo((ushort)0x1111), "parameter 0");
            Assert.That(Word(3), Is.EqualTo((ushort)0x2222), "parameter 1");
            Assert.That(Word(4), Is.EqualTo((ushort)0x9FFC), "caller SP");
            Assert.That(Word(5), Is.EqualTo(CpuHarness.UserData), "caller SS");
        });
    }

    [TestCase(TestName = "RETF 8 to an outer level pops EIP, CS, releases 8 bytes, pops ESP, SS, then adds 8 to the new ESP, and nulls DS holding a DPL0 segment")]
    public void FarReturnToOuterLevel()
    {
        var h = RunUser(a =>
        {
            a.push(0x1111);
            a.push(0x2222);
            CallFar(a, Gate, 0);
            a.@int(CpuHarness.ExitVector);
        }, h =>
        {
            SetDescriptor(h, 8, CallGate32(CpuHarness.KernelCode, TargetCode, count: 2));
            h.Load(TargetCode, a =>
            {
                a.mov(ax, CpuHarness.KernelData);
                a.mov(ds, ax);
                a.retf(8);
            });
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "back at CPL 3 after the call");
            Assert.That(h.Frame(0), Is.EqualTo(CpuHarness.UserCodeBase + 5 + 5 + CallLength + 2), "exit INT after the CALL");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.UserCode), "CS = 0x1B");
            Assert.That(h.Frame(3), Is.EqualTo(CpuHarness.UserStackTop - 8 + 8), "ESP = popped ESP (0x9FF8) + 8");
            Assert.That(h.Frame(4), Is.EqualTo((uint)CpuHarness.UserData), "SS popped");
            Assert.That(h.Cpu.Segments[X86Cpu.DS].Selector, Is.EqualTo((ushort)0), "DS (DPL 0 < CPL 3) nulled");
            Assert.That(h.Cpu.Segments[X86Cpu.DS].Usable, Is.False);
            Assert.That(h.Cpu.Segments[X86Cpu.ES].Selector, Is.EqualTo(CpuHarness.UserData), "ES (DPL 3) kept");
        });
    }

    [TestCase(TestName = "CALL through a call gate to conforming DPL0 code stays at CPL 3 on the same stack (SDM: CALL, SAME-PRIVILEGE)")]
    public void CallGateToConformingCodeKeepsPrivilege()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), h =>
        {
            SetDescriptor(h, 9, Flat(0xF, 0)); // conforming, readable, accessed, DPL 0
            SetDescriptor(h, 8, CallGate32(Sel9, TargetCode));
            h.Load(TargetCode, a => a.@int(CpuHarness.ExitVector));
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Frame(1), Is.EqualTo((uint)(Sel9 | 3)), "CS = 0x48 with RPL = CPL 3");
            Assert.That(h.Frame(3), Is.EqualTo(CpuHarness.UserStackTop - 8), "CS:EIP pushed on the user stack");
            Assert.That(h.ReadU32(CpuHarness.UserStackTop - 8), Is.EqualTo(ReturnEip));
            Assert.That(h.ReadU32(CpuHarness.UserStackTop - 4), Is.EqualTo((uint)CpuHarness.UserCode));
        });
    }

    [TestCase(TestName = "Far JMP to conforming DPL0 code at CPL 3 keeps CPL 3 (CS.RPL = CPL)")]
    public void JmpToConformingCode()
    {
        var h = RunUser(a => JmpFar(a, Sel9, TargetCode), h =>
        {
            SetDescriptor(h, 9, Flat(0xF, 0));
            h.Load(TargetCode, a => a.@int(CpuHarness.ExitVector));
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Frame(1), Is.EqualTo((uint)(Sel9 | 3)));
        });
    }

    [TestCase(TestName = "A far CALL sets the accessed bit of the target code descriptor")]
    public void FarCallSetsAccessedBit()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), h =>
        {
            SetDescriptor(h, 9, Flat(0xA, 0)); // readable code, accessed bit clear
            SetDescriptor(h, 8, CallGate32(Sel9, TargetCode));
            h.Load(TargetCode, a => a.hlt());
        });
        Assert.That(h.ReadU8(CpuHarness.GdtBase + (9 * 8) + 5) & 1, Is.EqualTo(1));
    }

    // ---- Faults of CALL/JMP through a gate (SDM: CALL, CALL-GATE and MORE-PRIVILEGE), in the SDM's order ----

    [TestCase(TestName = "CALL through a DPL0 call gate at CPL 3 raises #GP(gate selector 0x40)")]
    public void CallGateDplBelowCpl()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Gate32To(CpuHarness.KernelCode, dpl: 0));
        AssertUserFault(h, X86Vector.GP, Sel8);
    }

    [TestCase(TestName = "CALL at CPL 0 through a DPL2 call gate with selector RPL 3 (RPL > DPL) raises #GP(0x40)")]
    public void CallGateRplAboveDpl()
    {
        var h = RunKernel(a => CallFar(a, Sel8 | 3, 0), Gate32To(CpuHarness.KernelCode, dpl: 2));
        AssertKernelFault(h, X86Vector.GP, Sel8);
    }

    [TestCase(TestName = "CALL through a not-present call gate raises #NP(gate selector 0x40)")]
    public void CallGateNotPresent()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), h => SetDescriptor(h, 8, CallGate32(CpuHarness.KernelCode, TargetCode, present: false)));
        AssertUserFault(h, X86Vector.NP, Sel8);
    }

    [TestCase(TestName = "CALL through a call gate whose code selector is null raises #GP(0)")]
    public void CallGateNullCodeSelector()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Gate32To(0));
        AssertUserFault(h, X86Vector.GP, 0);
    }

    [TestCase(TestName = "CALL through a call gate whose code selector 0x100 lies beyond the GDT limit raises #GP(0x100)")]
    public void CallGateCodeSelectorBeyondLimit()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Gate32To(0x100));
        AssertUserFault(h, X86Vector.GP, 0x100);
    }

    [TestCase(TestName = "CALL through a call gate naming a data segment raises #GP(data selector 0x10)")]
    public void CallGateToDataSegment()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Gate32To(CpuHarness.KernelData));
        AssertUserFault(h, X86Vector.GP, CpuHarness.KernelData);
    }

    [TestCase(TestName = "CALL at CPL 0 through a call gate to DPL3 code (DPL > CPL) raises #GP(0x18)")]
    public void CallGateToLessPrivilegedCode()
    {
        var h = RunKernel(a => CallFar(a, Sel8, 0), Gate32To(CpuHarness.UserCode));
        AssertKernelFault(h, X86Vector.GP, 0x18);
    }

    [TestCase(TestName = "CALL through a call gate to a not-present code segment raises #NP(code selector 0x48)")]
    public void CallGateCodeNotPresent()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), h =>
        {
            SetDescriptor(h, 9, Flat(0xB, 0, present: false));
            SetDescriptor(h, 8, CallGate32(Sel9, TargetCode));
        });
        AssertUserFault(h, X86Vector.NP, Sel9);
    }

    [TestCase(TestName = "JMP through a call gate to more privileged nonconforming code raises #GP(code selector 0x08): JMP never changes CPL")]
    public void JmpThroughGateToInnerLevel()
    {
        var h = RunUser(a => JmpFar(a, Gate, 0), Gate32To(CpuHarness.KernelCode));
        AssertUserFault(h, X86Vector.GP, CpuHarness.KernelCode);
    }

    [TestCase(TestName = "JMP through a call gate to conforming DPL0 code at CPL 3 runs it at CPL 3 without pushing anything")]
    public void JmpThroughGateToConformingCode()
    {
        var h = RunUser(a => JmpFar(a, Gate, 0), h =>
        {
            SetDescriptor(h, 9, Flat(0xF, 0));
            SetDescriptor(h, 8, CallGate32(Sel9, TargetCode));
            h.Load(TargetCode, a => a.@int(CpuHarness.ExitVector));
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Frame(1), Is.EqualTo((uint)(Sel9 | 3)));
            Assert.That(h.Frame(3), Is.EqualTo(CpuHarness.UserStackTop), "nothing pushed");
        });
    }

    /// <summary>A DPL2 code segment (entry 9) behind the DPL3 gate: the stack comes from SS2:ESP2 (TSS offsets 0x14, 0x18).</summary>
    private static Action<CpuHarness> Ring2Gate(ushort ss2, uint esp2 = 0x7000, Action<CpuHarness>? more = null) => h =>
    {
        SetDescriptor(h, 9, Flat(0xB, 2));
        SetDescriptor(h, 8, CallGate32(Sel9 | 2, TargetCode));
        h.Load(TargetCode, a => a.@int(CpuHarness.ExitVector));
        h.WriteU32(CpuHarness.TssBase + 0x14, esp2);
        h.WriteU32(CpuHarness.TssBase + 0x18, ss2);
        more?.Invoke(h);
    };

    [TestCase(TestName = "CALL through a gate to DPL2 code loads SS2:ESP2 from the TSS and runs at CPL 2")]
    public void CallGateToRing2()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Ring2Gate(Sel10 | 2, more: h => SetDescriptor(h, 10, Flat(0x3, 2))));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "the DPL2 code ran and left through INT 0x81");
            Assert.That(h.Frame(1), Is.EqualTo((uint)(Sel9 | 2)), "CS with RPL = CPL 2");
            Assert.That(h.Frame(3), Is.EqualTo(0x7000u - 16), "ESP2 less the SS, ESP, CS, EIP of the call");
            Assert.That(h.Frame(4), Is.EqualTo((uint)(Sel10 | 2)), "SS2 from the TSS");
            Assert.That(h.ReadU32(0x7000 - 8), Is.EqualTo(CpuHarness.UserStackTop), "caller ESP on the ring-2 stack");
        });
    }

    [TestCase(TestName = "CALL to a more privileged level with the TSS too short for SS2:ESP2 (limit 0x18 < 0x19) raises #TS(TSS selector 0x28)")]
    public void CallGateTssTooShort()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Ring2Gate(Sel10 | 2, more: h =>
        {
            SetDescriptor(h, 10, Flat(0x3, 2));
            h.TssLimit = 0x18;
        }));
        AssertUserFault(h, X86Vector.TS, CpuHarness.TssSelector);
    }

    [TestCase((ushort)0, 0u, TestName = "CALL to a more privileged level with a null SS2 raises #TS(0)")]
    [TestCase((ushort)(Sel10 | 1), (uint)Sel10, TestName = "CALL to CPL 2 with SS2 RPL 1 != 2 raises #TS(0x50)")]
    [TestCase((ushort)(Sel11 | 2), (uint)Sel11, TestName = "CALL to CPL 2 with SS2 naming a DPL0 segment (DPL != 2) raises #TS(0x58)")]
    [TestCase((ushort)(0x100 | 2), 0x100u, TestName = "CALL to CPL 2 with SS2 beyond the GDT limit raises #TS(0x100)")]
    [TestCase((ushort)(Sel9 | 2), (uint)Sel9, TestName = "CALL to CPL 2 with SS2 naming the DPL2 code segment (not writable data) raises #TS(0x48)")]
    public void CallGateBadInnerStack(ushort ss2, uint errorCode)
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Ring2Gate(ss2, more: h =>
        {
            SetDescriptor(h, 10, Flat(0x3, 2));
            SetDescriptor(h, 11, Flat(0x3, 0));
        }));
        AssertUserFault(h, X86Vector.TS, errorCode);
    }

    [TestCase(TestName = "CALL to CPL 2 with a read-only SS2 data segment raises #TS(0x50)")]
    public void CallGateReadOnlyInnerStack()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Ring2Gate(Sel10 | 2, more: h => SetDescriptor(h, 10, Flat(0x1, 2))));
        AssertUserFault(h, X86Vector.TS, Sel10);
    }

    [TestCase(TestName = "CALL to CPL 2 with a not-present SS2 segment raises #SS(0x50)")]
    public void CallGateInnerStackNotPresent()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Ring2Gate(Sel10 | 2, more: h => SetDescriptor(h, 10, Flat(0x3, 2, present: false))));
        AssertUserFault(h, X86Vector.SS, Sel10);
    }

    [TestCase(TestName = "CALL to CPL 2 whose new stack cannot hold the 16-byte frame (ESP2 = 8 in a 4 KiB segment) raises #SS(0x50)")]
    public void CallGateInnerStackTooSmall()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), Ring2Gate(Sel10 | 2, esp2: 8, more: h =>
            SetDescriptor(h, 10, SegmentDescriptor.CodeOrData(0x3, 0x30000, 0xFFF, 2))));
        AssertUserFault(h, X86Vector.SS, Sel10);
    }

    [TestCase(TestName = "CALL through a gate whose offset 0x2000 lies beyond the 4 KiB code segment limit raises #GP(0), after the stack checks")]
    public void CallGateOffsetBeyondCodeLimit()
    {
        var h = RunUser(a => CallFar(a, Gate, 0), h =>
        {
            SetDescriptor(h, 9, SegmentDescriptor.CodeOrData(0xB, TargetCode, 0xFFF, 0));
            SetDescriptor(h, 8, CallGate32(Sel9, 0x2000));
        });
        AssertUserFault(h, X86Vector.GP, 0);
    }

    // ---- Direct far JMP/CALL to code segments (SDM: JMP/CALL, CONFORMING-/NONCONFORMING-CODE-SEGMENT) ----

    [TestCase((ushort)0, 0u, TestName = "Far JMP to the null selector raises #GP(0)")]
    [TestCase(CpuHarness.KernelCode, 0x08u, TestName = "Far JMP at CPL 3 to nonconforming DPL0 code raises #GP(0x08)")]
    [TestCase(CpuHarness.UserData, 0x20u, TestName = "Far JMP to a data segment raises #GP(0x20)")]
    [TestCase((ushort)0x100, 0x100u, TestName = "Far JMP to selector 0x100 beyond the GDT limit raises #GP(0x100)")]
    [TestCase((ushort)(Sel11 | 3), (uint)Sel11, TestName = "Far JMP to an LDT descriptor raises #GP(0x58)")]
    public void FarJmpFaults(ushort selector, uint errorCode)
    {
        var h = RunUser(a => JmpFar(a, selector, 0), h =>
            SetDescriptor(h, 11, SegmentDescriptor.System(SystemDescriptorType.Ldt, 0x30000, 0xFF, 3)));
        AssertUserFault(h, X86Vector.GP, errorCode);
    }

    [TestCase(TestName = "Far JMP at CPL 0 with RPL 3 to nonconforming DPL0 code (RPL > CPL) raises #GP(0x08)")]
    public void FarJmpRplAboveCpl()
    {
        var h = RunKernel(a => JmpFar(a, CpuHarness.KernelCode | 3, 0));
        AssertKernelFault(h, X86Vector.GP, CpuHarness.KernelCode);
    }

    [TestCase(TestName = "Far CALL to a not-present code segment raises #NP(0x48)")]
    public void FarCallCodeNotPresent()
    {
        var h = RunUser(a => CallFar(a, Sel9 | 3, 0), h => SetDescriptor(h, 9, Flat(0xB, 3, present: false)));
        AssertUserFault(h, X86Vector.NP, Sel9);
    }

    [TestCase(TestName = "Far CALL at CPL 0 to conforming DPL3 code (DPL > CPL) raises #GP(0x48)")]
    public void FarCallConformingDplAboveCpl()
    {
        var h = RunKernel(a => CallFar(a, Sel9, 0), h => SetDescriptor(h, 9, Flat(0xF, 3)));
        AssertKernelFault(h, X86Vector.GP, Sel9);
    }

    [TestCase(TestName = "Far CALL beyond the target's 4 KiB limit raises #GP(0) with nothing pushed")]
    public void FarCallBeyondLimit()
    {
        var h = RunKernel(a => CallFar(a, Sel9, 0x1000), h => SetDescriptor(h, 9, SegmentDescriptor.CodeOrData(0xB, TargetCode, 0xFFF, 0)));
        AssertKernelFault(h, X86Vector.GP, 0);
    }

    [TestCase(TestName = "Far CALL to the same level with no room for CS:EIP raises #SS(0) before the limit check")]
    public void FarCallStackFullBeforeLimit()
    {
        // SS = the 4 KiB DPL3 segment 0x3B with ESP = 4: the 8-byte push does not fit; the offset
        // 0x1000 is also beyond the target's limit, but the stack is checked first.
        var h = RunUser(a =>
        {
            a.mov(ax, CpuHarness.SmallUserData); // 4 bytes
            a.mov(ss, ax);                       // 66 8E D0: 3 bytes
            a.mov(esp, 4);                       // 5 bytes
            CallFar(a, Sel9 | 3, 0x1000);
        }, h => SetDescriptor(h, 9, SegmentDescriptor.CodeOrData(0xB, TargetCode, 0xFFF, 3)));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.SS));
            Assert.That(h.Frame(0), Is.EqualTo(0u), "#SS(0)");
            Assert.That(h.Frame(1), Is.EqualTo(CpuHarness.UserCodeBase + 12), "at the CALL");
            Assert.That(h.Frame(4), Is.EqualTo(4u), "ESP unchanged");
        });
    }

    // ---- Tasks: the descriptor checks of JMP/CALL before the switch (SDM: TASK-GATE, TASK-STATE-SEGMENT) ----

    [TestCase(TestName = "Far JMP to the busy TSS 0x28 raises #GP(0x28)")]
    public void JmpToBusyTss()
    {
        var h = RunKernel(a => JmpFar(a, CpuHarness.TssSelector, 0));
        AssertKernelFault(h, X86Vector.GP, CpuHarness.TssSelector);
    }

    [TestCase(TestName = "Far CALL at CPL 3 to an available DPL0 TSS raises #GP(0x48)")]
    public void CallTssDplBelowCpl()
    {
        var h = RunUser(a => CallFar(a, Sel9 | 3, 0), h =>
            SetDescriptor(h, 9, SegmentDescriptor.System(SystemDescriptorType.Tss32Available, 0x30000, 0x67)));
        AssertUserFault(h, X86Vector.GP, Sel9);
    }

    [TestCase(TestName = "Far JMP to a not-present available TSS raises #NP(0x48)")]
    public void JmpToTssNotPresent()
    {
        var tss = SegmentDescriptor.System(SystemDescriptorType.Tss32Available, 0x30000, 0x67);
        var h = RunKernel(a => JmpFar(a, Sel9, 0), h => SetDescriptor(h, 9, new SegmentDescriptor(tss.Raw & ~(1ul << 47))));
        AssertKernelFault(h, X86Vector.NP, Sel9);
    }

    [TestCase(TestName = "Far CALL through a not-present task gate raises #NP(gate selector 0x40)")]
    public void TaskGateNotPresent()
    {
        var h = RunKernel(a => CallFar(a, Sel8, 0), h =>
            SetDescriptor(h, 8, SegmentDescriptor.Gate(SystemDescriptorType.TaskGate, Sel9, 0, 0, present: false)));
        AssertKernelFault(h, X86Vector.NP, Sel8);
    }

    [TestCase(TestName = "Far JMP at CPL 3 through a DPL0 task gate raises #GP(0x40)")]
    public void TaskGateDplBelowCpl()
    {
        var h = RunUser(a => JmpFar(a, Gate, 0), h =>
            SetDescriptor(h, 8, SegmentDescriptor.Gate(SystemDescriptorType.TaskGate, Sel9, 0, 0)));
        AssertUserFault(h, X86Vector.GP, Sel8);
    }

    [TestCase((ushort)(Sel9 | 4), (uint)(Sel9 | 4), TestName = "A task gate whose TSS selector has TI = 1 (LDT) raises #GP(0x4C)")]
    [TestCase(CpuHarness.KernelData, (uint)CpuHarness.KernelData, TestName = "A task gate naming a data segment instead of a TSS raises #GP(0x10)")]
    [TestCase(CpuHarness.TssSelector, (uint)CpuHarness.TssSelector, TestName = "A task gate naming the busy TSS raises #GP(0x28)")]
    public void TaskGateBadTss(ushort tss, uint errorCode)
    {
        var h = RunKernel(a => JmpFar(a, Sel8, 0), h =>
            SetDescriptor(h, 8, SegmentDescriptor.Gate(SystemDescriptorType.TaskGate, tss, 0, 0)));
        AssertKernelFault(h, X86Vector.GP, errorCode);
    }

    // ---- Far RET (SDM: RET, protected mode) ----

    [TestCase(TestName = "RETF at CPL 3 to a CPL0 code selector (RPL < CPL) raises #GP(0x08)")]
    public void RetfToInnerLevelFaults()
    {
        var h = RunUser(a =>
        {
            a.push(CpuHarness.KernelCode); // 6A 08: 2 bytes
            a.push(0x1234);                // 68 id: 5 bytes
            a.retf();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo((uint)CpuHarness.KernelCode), "error code: the CS selector without RPL");
            Assert.That(h.Frame(1), Is.EqualTo(CpuHarness.UserCodeBase + 7), "at the RETF");
            Assert.That(h.Frame(4), Is.EqualTo(CpuHarness.UserStackTop - 8), "nothing popped");
        });
    }

    [TestCase(TestName = "RETF to an outer level whose SS has RPL != the new CPL raises #GP(SS selector 0x20)")]
    public void RetfToOuterLevelWithBadStack()
    {
        var h = RunKernel(a =>
        {
            a.push(CpuHarness.UserData & ~3); // SS 0x20: RPL 0, CS RPL 3
            a.push(CpuHarness.UserStackTop);
            a.push(CpuHarness.UserCode);
            a.push(CpuHarness.UserCodeBase);
            a.retf();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(0x20u));
            Assert.That(h.Cpu.Cpl, Is.EqualTo(0));
        });
    }

    [TestCase(TestName = "RETF to an outer level with a not-present SS raises #SS(0x50)")]
    public void RetfToOuterLevelStackNotPresent()
    {
        var h = RunKernel(a =>
        {
            a.push(Sel10 | 3);
            a.push(CpuHarness.UserStackTop);
            a.push(CpuHarness.UserCode);
            a.push(CpuHarness.UserCodeBase);
            a.retf();
        }, h => SetDescriptor(h, 10, Flat(0x3, 3, present: false)));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.SS));
            Assert.That(h.Frame(0), Is.EqualTo((uint)Sel10));
        });
    }

    [TestCase(TestName = "RETF 4 at the same level pops EIP and CS and releases 4 more bytes")]
    public void RetfSameLevelWithImmediate()
    {
        var h = RunKernel(a =>
        {
            a.push(0xAAAA);
            a.push(CpuHarness.KernelCode);
            a.push(TargetCode);
            a.retf(4);
        }, h => h.Load(TargetCode, a => a.hlt()));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop), "EIP, CS and the 4-byte parameter released");
        });
    }
}
