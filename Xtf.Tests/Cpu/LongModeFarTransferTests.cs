using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Far JMP, CALL and RET in IA-32e mode and 64-bit call gates (SDM vol. 2, JMP, CALL, RET; vol. 3,
/// 5.8.3.1 and 5.8.6). The far pointer is read from <see cref="Pointer"/>; test descriptors live
/// in GDT entries 12 onwards. No task switches in IA-32e mode (SDM vol. 3, 7.7).
/// </summary>
public sealed class LongModeFarTransferTests
{
    private const uint Pointer = DataBase;
    private const ushort Gate = 12 << 3, SecondTss = 14 << 3, TaskGate = 16 << 3, Last = 31 << 3;

    /// <summary>Writes an m16:32 (or m16:64) far pointer at <see cref="Pointer"/>.</summary>
    private static void SetPointer(LongModeHarness h, ushort selector, ulong offset, bool wide = false)
    {
        h.WriteU64(Pointer, offset);
        h.WriteU16(Pointer + (wide ? 8u : 4u), selector);
    }

    /// <summary>A 64-bit call gate in GDT entries 12-13.</summary>
    private static void SetCallGate(LongModeHarness h, ushort selector, ulong offset, int dpl, ulong extraHigh = 0)
    {
        var (low, high) = Gate64(SystemDescriptorType.CallGate64, selector, offset, dpl);
        h.SetDescriptor16(12, low, high | extraHigh);
    }

    // mov eax, Pointer (5 bytes) then call/jmp far [rax] (FF /3 or /5, 2 bytes): the next RIP is +7.
    private static void CallFar(Assembler a)
    {
        a.mov(eax, Pointer);
        a.call(__fword_ptr[rax]);
    }

    private static void JmpFar(Assembler a)
    {
        a.mov(eax, Pointer);
        a.jmp(__fword_ptr[rax]);
    }

    [TestCase(TestName = "SDM vol. 2, CALL, SAME-PRIVILEGE, CallGateSize = 64: a call through a 64-bit gate pushes CS and RIP as 8-byte slots")]
    public void SamePrivilegeCallGatePushesQuadwords()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        SetCallGate(h, Kernel64, TargetCode, 0);
        SetPointer(h, Gate, 0xDEAD);
        h.RunToHalt(CallFar);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1), "the gate's offset, not the pointer's");
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 16));
            Assert.That(h.Frame(0), Is.EqualTo(CodeBase + 7), "return RIP");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)Kernel64), "return CS");
        });
    }

    [TestCase(TestName = "SDM vol. 2, CALL, MORE-PRIVILEGE, 64-bit TSS: from CPL3 through a DPL3 gate to DPL0 code, RSP0 is loaded, SS becomes null and SS, RSP, CS, RIP are pushed as 8-byte slots")]
    public void MorePrivilegeCallGateUsesRsp0()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        SetCallGate(h, Kernel64, TargetCode, 3);
        SetPointer(h, Gate, 0);
        h.RunToHalt(a => EnterUser(a), CallFar);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu.Cpl, Is.Zero);
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(Rsp0Top - 32), "no 16-byte alignment and no parameters");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.Zero, "null SS, RPL 0");
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase + 7), "return RIP");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User64), "return CS");
            Assert.That(h.Frame(2), Is.EqualTo(UserStackTop), "old RSP");
            Assert.That(h.Frame(3), Is.EqualTo((ulong)UserData), "old SS");
        });
    }

    [TestCase(TestName = "SDM vol. 2, RET, IA-32E-MODE-RETURN-OUTER-PRIVILEGE-LEVEL: RETFQ from the gate's DPL0 target back to CPL3 pops RIP, CS, RSP, SS")]
    public void FarReturnToOuterLevelAfterCallGate()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.AddInstruction(Instruction.Create(Code.Retfq)));
        SetCallGate(h, Kernel64, TargetCode, 3);
        SetPointer(h, Gate, 0);
        h.RunToHalt(a => EnterUser(a), a =>
        {
            CallFar(a);
            a.ud2();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase + 7), "back after the CALL, at CPL3");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User64));
            Assert.That(h.Frame(3), Is.EqualTo(UserStackTop));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData));
        });
    }

    [TestCase(TestName = "SDM vol. 2, CALL, MORE-PRIVILEGE: a call gate to ring 1 loads RSP1 and SS = null selector with RPL 1")]
    public void CallGateToRingOneUsesRsp1()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.ud2());
        SetCallGate(h, Ring1Code, TargetCode, 3);
        SetPointer(h, Gate, 0);
        h.RunToHalt(a => EnterUser(a), CallFar);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(1), Is.EqualTo((ulong)Ring1Code), "the #UD came from ring 1");
            Assert.That(h.Frame(3), Is.EqualTo(Rsp1Top - 32), "ring 1 ran on RSP1");
            Assert.That(h.Frame(4), Is.EqualTo(1ul), "ring 1's SS: null, RPL 1");
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.15 (#GP): a 64-bit call gate whose upper type field is not 0 raises #GP(gate selector)")]
    public void UpperTypeFieldMustBeZero()
    {
        var h = new LongModeHarness();
        SetCallGate(h, Kernel64, TargetCode, 0, extraHigh: (ulong)SystemDescriptorType.CallGate64 << 40);
        SetPointer(h, Gate, 0);
        h.RunToHalt(CallFar);
        h.AssertFault(X86Vector.GP, Gate);
    }

    [TestCase(TestName = "SDM vol. 2, CALL, CALL-GATE: in IA-32e mode the gate's code segment must be 64-bit: a 32-bit one is #GP(code selector)")]
    public void CallGateTargetMustBeSixtyFourBit()
    {
        var h = new LongModeHarness();
        SetCallGate(h, Kernel32, TargetCode, 0);
        SetPointer(h, Gate, 0);
        h.RunToHalt(CallFar);
        h.AssertFault(X86Vector.GP, Kernel32);
    }

    [TestCase(TestName = "SDM vol. 3, 5.8.3.1: the 16 bytes of a call gate must lie within the GDT: a gate in the last 8-byte entry is #GP(gate selector)")]
    public void CallGateUpperHalfBeyondLimit()
    {
        var h = new LongModeHarness();
        var (low, _) = Gate64(SystemDescriptorType.CallGate64, Kernel64, TargetCode, 0);
        h.SetDescriptor(31, low);
        SetPointer(h, Last, 0);
        h.RunToHalt(CallFar);
        h.AssertFault(X86Vector.GP, Last);
    }

    [TestCase(TestName = "SDM vol. 2, CALL: in IA-32e mode a 16-bit call gate (type 4) is not a valid target: #GP(selector)")]
    public void SixteenBitCallGateRefused()
    {
        var h = new LongModeHarness();
        var (low, high) = Gate64(SystemDescriptorType.CallGate16, Kernel64, TargetCode, 0);
        h.SetDescriptor16(12, low, high);
        SetPointer(h, Gate, 0);
        h.RunToHalt(CallFar);
        h.AssertFault(X86Vector.GP, Gate);
    }

    [TestCase(TestName = "SDM vol. 3, 7.7: a far CALL to an available 64-bit TSS in IA-32e mode raises #GP(TSS selector): no task switches")]
    public void CallToTssRefused()
    {
        var h = new LongModeHarness();
        var (low, high) = System64(SystemDescriptorType.Tss64Available, TssBase + 0x100, 0x67);
        h.SetDescriptor16(14, low, high);
        SetPointer(h, SecondTss, 0);
        h.RunToHalt(CallFar);
        h.AssertFault(X86Vector.GP, SecondTss);
    }

    [TestCase(TestName = "SDM vol. 3, 7.7: a far JMP to a task gate in IA-32e mode raises #GP(gate selector)")]
    public void JumpToTaskGateRefused()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(16, SegmentDescriptor.Gate(SystemDescriptorType.TaskGate, SecondTss, 0, 0).Raw);
        SetPointer(h, TaskGate, 0);
        h.RunToHalt(JmpFar);
        h.AssertFault(X86Vector.GP, TaskGate);
    }

    [TestCase(TestName = "SDM vol. 2, JMP, CALL-GATE: a JMP through a call gate never changes privilege: to DPL0 code from CPL3 is #GP(code selector)")]
    public void JumpThroughGateCannotRaisePrivilege()
    {
        var h = new LongModeHarness();
        SetCallGate(h, Kernel64, TargetCode, 3);
        SetPointer(h, Gate, 0);
        h.RunToHalt(a => EnterUser(a), JmpFar);
        h.AssertFault(X86Vector.GP, Kernel64);
    }

    [TestCase(TestName = "SDM vol. 2, JMP, CALL-GATE: a JMP through a 64-bit call gate at the same privilege goes to the gate's 64-bit offset, pushing nothing")]
    public void JumpThroughGateSamePrivilege()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        SetCallGate(h, Kernel64, TargetCode, 0);
        SetPointer(h, Gate, 0);
        h.RunToHalt(JmpFar);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop));
        });
    }

    [TestCase(TestName = "SDM vol. 2, JMP, CALL-GATE: a non-canonical 64-bit gate offset raises #GP(0)")]
    public void NonCanonicalGateOffset()
    {
        var h = new LongModeHarness();
        SetCallGate(h, Kernel64, 0x0000_8000_0000_1000, 0);
        SetPointer(h, Gate, 0);
        h.RunToHalt(JmpFar);
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, JMP: in IA-32e mode a code segment with L and D both set raises #GP(selector)")]
    public void LongAndBigCodeRefused()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.Flat(0xA, 0, big: true, longMode: true).Raw);
        SetPointer(h, Gate, TargetCode);
        h.RunToHalt(JmpFar);
        h.AssertFault(X86Vector.GP, Gate);
    }

    [TestCase(TestName = "SDM vol. 2, JMP: a far JMP m16:32 from 64-bit code to a 32-bit code segment enters compatibility mode")]
    public void JumpToCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 32, a => a.hlt());
        SetPointer(h, Kernel32, TargetCode);
        h.RunToHalt(JmpFar);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu.Bitness, Is.EqualTo(32));
            Assert.That(h.Cpu.Segments[X86Cpu.CS].Selector, Is.EqualTo(Kernel32));
        });
    }

    [TestCase(TestName = "SDM vol. 2, JMP: the offset of a far JMP to a 64-bit code segment is checked for canonical form, not against the segment limit")]
    public void JumpToSixtyFourBitIgnoresLimit()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.CodeOrData(0xB, 0, 0, 0, big: false).Raw | (1ul << 53));
        h.Load(TargetCode, 64, a => a.hlt());
        SetPointer(h, Gate, TargetCode);
        h.RunToHalt(JmpFar);
        Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
    }

    [TestCase(TestName = "SDM vol. 2, JMP: a far JMP to a compatibility-mode code segment checks the offset against its limit (#GP(0))")]
    public void JumpToCompatibilityModeChecksLimit()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.CodeOrData(0xB, 0, 0xFFF, 0).Raw);
        SetPointer(h, Gate, TargetCode);
        h.RunToHalt(JmpFar);
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, JMP: JMP m16:64 (REX.W) takes a 64-bit offset, which must be canonical for a 64-bit target (#GP(0))")]
    public void JumpSixtyFourBitOffset()
    {
        var h = new LongModeHarness();
        SetPointer(h, Kernel64, 0xFFFF_0000_0000_0000, wide: true);
        h.RunToHalt(a =>
        {
            a.mov(eax, Pointer);
            a.AddInstruction(Instruction.Create(Code.Jmp_m1664, new MemoryOperand(Register.RAX)));
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, CALL: CALL m16:64 to 64-bit code pushes CS and RIP as 8-byte slots")]
    public void CallSixtyFourBitOffset()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        SetPointer(h, Kernel64, TargetCode, wide: true);
        h.RunToHalt(a =>
        {
            a.mov(eax, Pointer);
            a.AddInstruction(Instruction.Create(Code.Call_m1664, new MemoryOperand(Register.RAX)));
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 16));
            Assert.That(h.Frame(0), Is.EqualTo(CodeBase + 8), "return RIP after the 3-byte REX.W FF /3");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)Kernel64));
        });
    }

    [TestCase(TestName = "SDM vol. 2, RET: RETFQ from 64-bit code to a 32-bit code segment at the same privilege enters compatibility mode")]
    public void FarReturnToCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 32, a => a.hlt());
        h.RunToHalt(a =>
        {
            a.push((int)Kernel32);
            a.push((int)TargetCode);
            a.AddInstruction(Instruction.Create(Code.Retfq));
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu.Bitness, Is.EqualTo(32));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop));
        });
    }

    [TestCase(TestName = "SDM vol. 2, RET: RETF without REX.W in 64-bit mode pops a 4-byte EIP and a 4-byte CS slot")]
    public void FarReturnDefaultOperandSize()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        h.RunToHalt(a =>
        {
            a.sub(rsp, 8);
            a.mov(__dword_ptr[rsp], TargetCode);
            a.mov(__dword_ptr[rsp + 4], (uint)Kernel64);
            a.AddInstruction(Instruction.Create(Code.Retfd)); // CB without REX.W
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop));
        });
    }

    [TestCase(TestName = "SDM vol. 2, RET, IA-32E-MODE-RETURN-OUTER-PRIVILEGE-LEVEL: a null SS returning to CPL3 raises #GP(0)")]
    public void FarReturnToUserWithNullStack()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.push(3);
            a.push((int)UserStackTop);
            a.push((int)User64);
            a.push((int)UserCodeBase);
            a.AddInstruction(Instruction.Create(Code.Retfq));
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, RET: RETFQ to an outer level may load a null SS when the target is 64-bit code at CPL 1")]
    public void FarReturnToRingOneWithNullStack()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.ud2());
        h.RunToHalt(a =>
        {
            a.push(1);
            a.push((int)Rsp1Top);
            a.push((int)Ring1Code);
            a.push((int)TargetCode);
            a.AddInstruction(Instruction.Create(Code.Retfq));
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(1), Is.EqualTo((ulong)Ring1Code));
            Assert.That(h.Frame(3), Is.EqualTo(Rsp1Top));
            Assert.That(h.Frame(4), Is.EqualTo(1ul), "null SS with RPL 1");
        });
    }

    [TestCase(TestName = "SDM vol. 2, CALL, MORE-PRIVILEGE: if the 32 bytes below RSPn are not canonical, the call raises #SS(0) (taken here on an IST stack)")]
    public void CallGateNonCanonicalStack()
    {
        var h = new LongModeHarness { Rsp0 = 0x0000_8000_0000_0010 };
        h.SetGate((int)X86Vector.SS, new Gate(SystemDescriptorType.InterruptGate64, 0, Ist: 1));
        SetCallGate(h, Kernel64, TargetCode, 3);
        SetPointer(h, Gate, 0);
        h.RunToHalt(a => EnterUser(a), CallFar);
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.SS, 0);
            Assert.That(h.Frame(1), Is.EqualTo(UserCodeBase + 5), "the CALL faulted");
            Assert.That(h.Frame(2), Is.EqualTo((ulong)User64));
        });
    }

    [TestCase(TestName = "SDM vol. 2, CALL, MORE-PRIVILEGE: an RSPn slot beyond the 64-bit TSS limit raises #TS(TSS selector)")]
    public void CallGateRspBeyondTssLimit()
    {
        // RSP1 lies at 0x0C..0x13: a limit of 0x12 cuts it, RSP0 (0x04..0x0B) stays usable for the #TS.
        var h = new LongModeHarness { TssLimit = 0x12 };
        SetCallGate(h, Ring1Code, TargetCode, 3);
        SetPointer(h, Gate, 0);
        h.RunToHalt(a => EnterUser(a), CallFar);
        h.AssertFault(X86Vector.TS, TssSelector);
    }
}
