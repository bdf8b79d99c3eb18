using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// IRET in IA-32e mode (SDM vol. 2, IRET, IA-32e-MODE; vol. 3, 6.14.3): SS:RSP are popped always
/// in 64-bit mode, in compatibility mode only on a privilege change; a null SS may return to
/// 64-bit mode at CPL 0-2; NT set is #GP(0).
/// </summary>
public sealed class LongModeIretTests
{
    /// <summary>Pushes an IRETQ frame: SS, RSP, RFLAGS (Reserved1), CS and the RIP of <paramref name="target"/>.</summary>
    private static void PushFrame(Assembler a, ushort ss, uint rsp, ushort cs, Label target)
    {
        a.push((int)ss);
        a.push((int)rsp);
        a.push((int)RFlags.Reserved1);
        a.push((int)cs);
        a.lea(rax, __[target]);
        a.push(rax);
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.3: IRETQ in 64-bit mode at the same privilege level pops SS:RSP")]
    public void SamePrivilegePopsStack()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            var done = a.CreateLabel();
            PushFrame(a, KernelData, DataBase + 0x100, Kernel64, done);
            a.iretq();
            a.Label(ref done);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "halted in the body");
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(DataBase + 0x100));
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(KernelData));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.3: IRETQ may load a null SS (RPL = CPL = 0) when returning to 64-bit mode at CPL 0")]
    public void NullStackToCplZeroSixtyFourBit()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            var done = a.CreateLabel();
            PushFrame(a, 0, DataBase + 0x100, Kernel64, done);
            a.iretq();
            a.Label(ref done);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "halted in the body");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.Zero);
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(DataBase + 0x100));
        });
    }

    [TestCase(User64, (ushort)3, TestName = "IRETQ with a null SS returning to CPL3 64-bit mode raises #GP(0) (SDM vol. 2, IRET, IA-32e-MODE-RETURN)")]
    [TestCase(User32, (ushort)3, TestName = "IRETQ with a null SS returning to compatibility mode raises #GP(0)")]
    [TestCase(Kernel64, (ushort)1, TestName = "IRETQ with a null SS whose RPL (1) differs from the new CPL (0) raises #GP(0)")]
    public void NullStackRefused(ushort cs, ushort ss)
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a, cs: cs, ss: ss));
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)Kernel64), "the IRETQ faulted at CPL0");
            Assert.That(h.Frame(4), Is.EqualTo(KernelStackTop - 40), "nothing was popped");
        });
    }

    [TestCase(TestName = "SDM vol. 2, IRET: with RFLAGS.NT set, IRET in IA-32e mode raises #GP(0) (no task return)")]
    public void NestedTaskIsGp()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a), rflags: RFlags.Reserved1 | RFlags.NT);
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, IRET, IA-32e-MODE-RETURN: a non-canonical return RIP raises #GP(0)")]
    public void NonCanonicalRipIsGp()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.push((int)KernelData);
            a.push((int)KernelStackTop);
            a.push((int)RFlags.Reserved1);
            a.push((int)Kernel64);
            a.mov(rax, 0x0000_8000_0000_0000ul);
            a.push(rax);
            a.iretq();
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(4), Is.EqualTo(KernelStackTop - 40), "nothing was popped");
        });
    }

    [TestCase(TestName = "SDM vol. 2, IRET: a return code segment with L and D both set raises #GP(selector) in IA-32e mode")]
    public void LongAndBigCodeIsGp()
    {
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.Flat(0xA, 0, big: true, longMode: true).Raw);
        h.RunToHalt(a =>
        {
            var done = a.CreateLabel();
            PushFrame(a, KernelData, KernelStackTop, 12 << 3, done);
            a.iretq();
            a.Label(ref done);
            a.hlt();
        });
        h.AssertFault(X86Vector.GP, 12 << 3);
    }

    [TestCase(TestName = "SDM vol. 2, IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL: data segment registers with DPL < new CPL (3) are loaded with null")]
    public void OuterReturnNullsKernelDataSegments()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(ax, KernelData);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(fs, ax);
            a.mov(ax, UserData);
            a.mov(gs, ax);
            EnterUser(a);
        }, a => a.ud2());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Cpu.Segments[X86Cpu.DS].Selector, Is.Zero);
            Assert.That(h.Cpu.Segments[X86Cpu.ES].Selector, Is.Zero);
            Assert.That(h.Cpu.Segments[X86Cpu.FS].Selector, Is.Zero);
            Assert.That(h.Cpu.Segments[X86Cpu.GS].Selector, Is.EqualTo(UserData), "DPL3 data stays");
        });
    }

    [TestCase(TestName = "SDM vol. 2, IRET: IRETD in 64-bit mode pops 4-byte EIP, CS, EFLAGS, ESP and SS")]
    public void IretdPopsFourByteSlots()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            var done = a.CreateLabel();
            a.mov(rsp, (ulong)KernelStackTop);
            a.sub(rsp, 20);
            a.lea(rax, __[done]);
            a.mov(__dword_ptr[rsp], eax);
            a.mov(__dword_ptr[rsp + 4], (uint)Kernel64);
            a.mov(__dword_ptr[rsp + 8], RFlags.Reserved1 | RFlags.CF);
            a.mov(__dword_ptr[rsp + 12], DataBase + 0x80);
            a.mov(__dword_ptr[rsp + 16], (uint)KernelData);
            a.iretd();
            a.Label(ref done);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "halted in the body");
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(DataBase + 0x80));
            Assert.That(h.Cpu.Eflags & RFlags.CF, Is.EqualTo(RFlags.CF));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.3: IRETQ at the same privilege can return to compatibility mode (a 32-bit code segment, CS.L = 0)")]
    public void SamePrivilegeToCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 32, a => a.hlt());
        h.RunToHalt(a =>
        {
            a.push((int)KernelData);
            a.push((int)KernelStackTop);
            a.push((int)RFlags.Reserved1);
            a.push((int)Kernel32);
            a.push((int)TargetCode);
            a.iretq();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu.Bitness, Is.EqualTo(32), "compatibility mode");
            Assert.That(h.Cpu.LongMode, Is.True);
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.3: IRETD in compatibility mode at the same privilege level pops EIP, CS, EFLAGS only, not SS:ESP")]
    public void CompatibilitySamePrivilegeDoesNotPopStack()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 32, a =>
        {
            a.mov(esp, KernelStackTop);
            a.pushfd();
            a.push((int)Kernel32);
            a.push((int)(TargetCode + 0x100));
            a.iretd();
        });
        h.Load(TargetCode + 0x100, 32, a => a.hlt());
        h.RunToHalt(a => EnterUser(a, cs: Kernel32, ss: KernelData, rsp: KernelStackTop, rip: TargetCode));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 0x101));
            Assert.That(h.Cpu.Bitness, Is.EqualTo(32));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop), "12 bytes popped, no SS:ESP");
        });
    }

    [TestCase(TestName = "SDM vol. 2, IRET, RETURN-TO-SAME-PRIVILEGE-LEVEL: IRETD from compatibility mode to a 64-bit code segment checks RIP for canonical form, not against the segment limit")]
    public void CompatibilityToSixtyFourBitIgnoresLimit()
    {
        // A 64-bit code segment with a byte-granular limit of 0: the target 0x12100 is far beyond it.
        var h = new LongModeHarness();
        h.SetDescriptor(12, SegmentDescriptor.CodeOrData(0xB, 0, 0, 0, big: false).Raw | (1ul << 53));
        h.Load(TargetCode, 32, a =>
        {
            a.pushfd();
            a.push(12 << 3);
            a.push((int)(TargetCode + 0x100));
            a.iretd();
        });
        h.Load(TargetCode + 0x100, 64, a => a.hlt());
        h.RunToHalt(a => EnterUser(a, cs: Kernel32, ss: KernelData, rsp: KernelStackTop, rip: TargetCode));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 0x101));
            Assert.That(h.Cpu.Bitness, Is.EqualTo(64));
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop), "compatibility mode, same privilege: no SS:ESP");
        });
    }

    [TestCase(TestName = "SDM vol. 2, IRET: IRETD from compatibility mode at CPL0 to CPL3 compatibility code pops SS:ESP")]
    public void CompatibilityToOuterLevel()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 32, a =>
        {
            a.push((int)UserData);
            a.push((int)UserStackTop);
            a.push((int)RFlags.Reserved1);
            a.push((int)User32);
            a.push((int)UserCodeBase);
            a.iretd();
        });
        h.RunToHalt(a => EnterUser(a, cs: Kernel32, ss: KernelData, rsp: KernelStackTop, rip: TargetCode), a => a.ud2(), userBitness: 32);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase));
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User32));
            Assert.That(h.Frame(3), Is.EqualTo(UserStackTop));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData));
        });
    }

    [TestCase(TestName = "SDM vol. 3, 6.14.3: IRETQ at CPL3 in 64-bit mode with no privilege change still loads RSP and SS from the frame")]
    public void UserSamePrivilegePopsStack()
    {
        var h = new LongModeHarness();
        h.Load(UserCodeBase + 0x100, 64, a => a.ud2());
        h.RunToHalt(a => EnterUser(a), a =>
        {
            a.push((int)UserData2);
            a.push((int)(UserStackTop - 0x100));
            a.push((int)RFlags.Reserved1);
            a.push((int)User64);
            a.push((int)(UserCodeBase + 0x100));
            a.iretq();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase + 0x100));
            Assert.That(h.Frame(3), Is.EqualTo(UserStackTop - 0x100));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData2));
        });
    }
}
