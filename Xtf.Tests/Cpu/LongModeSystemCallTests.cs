using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS and RD/WR FS/GS BASE in IA-32e mode (SDM vol. 2 pages
/// of each; vol. 3, 5.8.7 and 5.8.8). The harness's selectors follow the SYSRET and SYSEXIT
/// layouts: STAR[63:48] = 0x18 gives 0x1B/0x23 and 0x2B/0x23; IA32_SYSENTER_CS = 0x08 gives
/// 0x08/0x10, 0x1B/0x23 and 0x2B/0x33.
/// </summary>
public sealed class LongModeSystemCallTests
{
    private const ulong Star = (0x18ul << 48) | (0x08ul << 32);
    private const uint Fmask = RFlags.TF | RFlags.IF | RFlags.DF | RFlags.NT;

    private static void SetSyscallMsrs(Assembler a, ulong star = Star)
    {
        WriteMsr(a, X86Cpu.MsrStar, star);
        WriteMsr(a, X86Cpu.MsrLstar, TargetCode);
        WriteMsr(a, X86Cpu.MsrFmask, Fmask);
    }

    private static void SetSysenterMsrs(Assembler a, ulong cs = Kernel64)
    {
        WriteMsr(a, X86Cpu.MsrSysenterCs, cs);
        WriteMsr(a, X86Cpu.MsrSysenterEsp, Rsp2Top);
        WriteMsr(a, X86Cpu.MsrSysenterEip, TargetCode);
    }

    private static void EnableFsGsBase(Assembler a)
    {
        a.mov(rax, cr4);
        a.or(rax, (int)Cr4.FSGSBASE);
        a.mov(cr4, rax);
    }

    [TestCase(TestName = "SDM vol. 2, SYSCALL: RCX = next RIP, R11 = RFLAGS, RIP = IA32_LSTAR, RFLAGS &= ~IA32_FMASK, CS = STAR[47:32], SS = STAR[47:32] + 8, CPL 0")]
    public void SyscallTransfer()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        h.RunToHalt(a =>
        {
            SetSyscallMsrs(a);
            EnterUser(a, rflags: RFlags.Reserved1 | RFlags.IF);
        }, a =>
        {
            a.std();
            a.syscall();
        });
        var cpu = h.Cpu;
        Assert.Multiple(() =>
        {
            Assert.That(cpu.Rip, Is.EqualTo(TargetCode + 1), "RIP = LSTAR");
            Assert.That(cpu[X86Cpu.RCX], Is.EqualTo(UserCodeBase + 3), "RCX = RIP after the 1-byte STD and 2-byte SYSCALL");
            Assert.That(cpu[11], Is.EqualTo((ulong)(RFlags.Reserved1 | RFlags.IF | RFlags.DF)), "R11 = RFLAGS");
            Assert.That(cpu.Eflags, Is.EqualTo(RFlags.Reserved1), "IF and DF masked by FMASK");
            Assert.That(cpu.Segments[X86Cpu.CS].Selector, Is.EqualTo(Kernel64));
            Assert.That(cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(KernelData));
            Assert.That(cpu.Cpl, Is.Zero);
            Assert.That(cpu.Bitness, Is.EqualTo(64), "CS.L = 1");
            Assert.That(cpu[X86Cpu.RSP], Is.EqualTo(UserStackTop), "RSP is not switched");
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSCALL: CS.Selector = STAR[47:32] AND FFFCH, but SS.Selector = STAR[47:32] + 8 keeps the RPL bits")]
    public void SyscallSelectorRpl()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        h.RunToHalt(a =>
        {
            SetSyscallMsrs(a, (0x18ul << 48) | (0x0Bul << 32));
            a.syscall();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Segments[X86Cpu.CS].Selector, Is.EqualTo((ushort)0x08));
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo((ushort)0x13));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSCALL: #UD when EFER.SCE is clear")]
    public void SyscallNeedsSce()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(ecx, X86Cpu.MsrEfer);
            a.rdmsr();
            a.and(eax, ~(int)Efer.SCE);
            a.wrmsr();
            a.syscall();
        });
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
    }

    [TestCase(TestName = "SDM vol. 2, SYSCALL: #UD in compatibility mode (Intel: only 64-bit mode)")]
    public void SyscallInCompatibilityModeIsUd()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSyscallMsrs(a);
            EnterUser(a, cs: User32);
        }, a => a.syscall(), userBitness: 32);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User32));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSRET (REX.W): to 64-bit mode at CPL3, CS = STAR[63:48]+16 | 3, SS = STAR[63:48]+8 | 3, RIP = RCX, RFLAGS = R11 with RF, VM and reserved bits cleared, bit 1 set")]
    public void SysretToSixtyFourBitMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSyscallMsrs(a);
            a.mov(ecx, UserCodeBase);
            // RF | VM | IF | CF and reserved bits 3, 5, 15: (0x38229 & 0x3C7FD7) | 2 = 0x203.
            a.mov(r11, 0x38229);
            a.sysretq();
        }, a => a.hlt());
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0); // HLT at CPL3
            Assert.That(h.Frame(1), Is.EqualTo(UserCodeBase));
            Assert.That(h.Frame(2), Is.EqualTo((ulong)User64), "0x18 + 16, RPL 3");
            Assert.That(h.Frame(3), Is.EqualTo(0x203ul | RFlags.RF), "R11 filtered (RF in the image is the #GP's)");
            Assert.That(h.Frame(4), Is.EqualTo(KernelStackTop), "RSP unchanged");
            Assert.That(h.Frame(5), Is.EqualTo((ulong)UserData), "0x18 + 8, RPL 3");
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSRET (32-bit operand): to compatibility mode, CS = STAR[63:48] | 3, RIP = ECX")]
    public void SysretToCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSyscallMsrs(a);
            a.mov(rcx, 0xFFFF_FFFF_0000_0000ul | UserCodeBase);
            a.mov(r11, 0x202);
            a.sysret();
        }, a => a.ud2(), userBitness: 32);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase), "RIP = ECX");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User32));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSRET: SYSRET to a non-canonical RCX raises #GP(0) at CPL0 (Intel), on the kernel stack")]
    public void SysretNonCanonicalRcxFaultsAtCplZero()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSyscallMsrs(a);
            a.mov(rcx, 0x0000_8000_0000_0000ul);
            a.mov(r11, 0x202);
            a.sysretq();
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)Kernel64), "CPL0: no transition took place");
            Assert.That(h.Cpu[X86Cpu.RSP], Is.EqualTo(KernelStackTop - 48), "no stack switch");
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSRET: #GP(0) at CPL3")]
    public void SysretAtCplThree()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a), a => a.sysretq());
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)User64));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSENTER in IA-32e mode: CS = IA32_SYSENTER_CS (64-bit), SS = CS + 8, RSP/RIP from the MSRs, IF cleared, CPL 0")]
    public void SysenterInSixtyFourBitMode()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        h.RunToHalt(a =>
        {
            SetSysenterMsrs(a);
            EnterUser(a, rflags: RFlags.Reserved1 | RFlags.IF);
        }, a => a.sysenter());
        var cpu = h.Cpu;
        Assert.Multiple(() =>
        {
            Assert.That(cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(cpu[X86Cpu.RSP], Is.EqualTo(Rsp2Top));
            Assert.That(cpu.Segments[X86Cpu.CS].Selector, Is.EqualTo(Kernel64));
            Assert.That(cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(KernelData));
            Assert.That(cpu.Bitness, Is.EqualTo(64));
            Assert.That(cpu.Eflags & RFlags.IF, Is.Zero);
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSENTER: from compatibility mode, IA-32e mode still enters 64-bit code")]
    public void SysenterFromCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());
        h.RunToHalt(a =>
        {
            SetSysenterMsrs(a);
            EnterUser(a, cs: User32);
        }, a => a.sysenter(), userBitness: 32);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1));
            Assert.That(h.Cpu.Bitness, Is.EqualTo(64));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSENTER: #GP(0) when IA32_SYSENTER_CS[15:2] = 0")]
    public void SysenterNeedsCs()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSysenterMsrs(a, cs: 3);
            EnterUser(a);
        }, a => a.sysenter());
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)User64));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSEXIT (REX.W): to 64-bit mode, CS = IA32_SYSENTER_CS + 32 | 3, SS = CS + 8, RSP = RCX, RIP = RDX")]
    public void SysexitToSixtyFourBitMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSysenterMsrs(a);
            a.mov(ecx, UserStackTop);
            a.mov(edx, UserCodeBase);
            a.sysexitq();
        }, a => a.ud2());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(0), Is.EqualTo(UserCodeBase));
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User64), "0x08 + 32, RPL 3");
            Assert.That(h.Frame(3), Is.EqualTo(UserStackTop));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData2), "0x08 + 40, RPL 3");
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSEXIT (32-bit operand): to compatibility mode, CS = IA32_SYSENTER_CS + 16 | 3, SS = CS + 8")]
    public void SysexitToCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSysenterMsrs(a);
            a.mov(ecx, UserStackTop);
            a.mov(edx, UserCodeBase);
            a.sysexit();
        }, a => a.ud2(), userBitness: 32);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
            Assert.That(h.Frame(1), Is.EqualTo((ulong)User32));
            Assert.That(h.Frame(4), Is.EqualTo((ulong)UserData));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSEXIT: #GP(0) at CPL3")]
    public void SysexitAtCplThree()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSysenterMsrs(a);
            EnterUser(a);
        }, a => a.sysexitq());
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, SYSEXIT: the REX.W form with a non-canonical RDX raises #GP(0) at CPL0")]
    public void SysexitNonCanonicalRip()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            SetSysenterMsrs(a);
            a.mov(ecx, UserStackTop);
            a.mov(rdx, 0x0000_8000_0000_0000ul);
            a.sysexitq();
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Frame(2), Is.EqualTo((ulong)Kernel64));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SWAPGS: exchanges GS.base with IA32_KERNEL_GS_BASE; GS-relative accesses use the new base")]
    public void SwapgsExchangesBases()
    {
        var h = new LongModeHarness();
        h.WriteU64(DataBase + 0x10, 0x1122_3344_5566_7788);
        h.RunToHalt(a =>
        {
            WriteMsr(a, X86Cpu.MsrGsBase, 0x1000_0000);
            WriteMsr(a, X86Cpu.MsrKernelGsBase, DataBase);
            a.swapgs();
            a.xor(ebx, ebx);
            a.mov(rax, __qword_ptr.gs[rbx + 0x10]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Segments[X86Cpu.GS].Base, Is.EqualTo((ulong)DataBase));
            Assert.That(h.Cpu.ReadMsr(X86Cpu.MsrKernelGsBase), Is.EqualTo(0x1000_0000ul));
            Assert.That(h.Cpu[X86Cpu.RAX], Is.EqualTo(0x1122_3344_5566_7788ul));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SWAPGS: #GP(0) at CPL3")]
    public void SwapgsAtCplThree()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a), a => a.swapgs());
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, SWAPGS: #UD outside 64-bit mode (compatibility mode)")]
    public void SwapgsInCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a, cs: User32), a => a.db(0x0F, 0x01, 0xF8), userBitness: 32);
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
    }

    [TestCase(TestName = "SDM vol. 2, RDFSBASE: #UD with CR4.FSGSBASE clear")]
    public void RdfsbaseNeedsCr4Bit()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => a.rdfsbase(rax));
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
    }

    [TestCase(TestName = "SDM vol. 2, WRFSBASE/RDFSBASE: with CR4.FSGSBASE set, WRFSBASE sets FS.base, which FS-relative accesses use, and RDFSBASE reads it")]
    public void WrfsbaseRoundTrip()
    {
        var h = new LongModeHarness();
        h.WriteU64(DataBase + 8, 0xCAFE);
        h.RunToHalt(a =>
        {
            EnableFsGsBase(a);
            a.mov(eax, DataBase);
            a.wrfsbase(rax);
            a.xor(ebx, ebx);
            a.mov(rbx, __qword_ptr.fs[rbx + 8]);
            a.rdfsbase(rcx);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo(0xCAFEul));
            Assert.That(h.Cpu[X86Cpu.RCX], Is.EqualTo((ulong)DataBase));
            Assert.That(h.Cpu.ReadMsr(X86Cpu.MsrFsBase), Is.EqualTo((ulong)DataBase), "IA32_FS_BASE is the same base");
        });
    }

    [TestCase(TestName = "SDM vol. 2, WRGSBASE: a non-canonical base raises #GP(0)")]
    public void WrgsbaseNonCanonical()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            EnableFsGsBase(a);
            a.mov(rax, 0x0000_8000_0000_0000ul);
            a.wrgsbase(rax);
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 2, WRFSBASE r32 zero-extends the base; RDGSBASE r32 returns the low 32 bits, zero-extended")]
    public void ThirtyTwoBitForms()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            EnableFsGsBase(a);
            WriteMsr(a, X86Cpu.MsrGsBase, 0x1_2345_6789);
            a.mov(rax, -1L);
            a.wrfsbase(eax);
            a.mov(rbx, -1L);
            a.rdgsbase(ebx);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Segments[X86Cpu.FS].Base, Is.EqualTo(0xFFFF_FFFFul));
            Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo(0x2345_6789ul));
        });
    }

    [TestCase(TestName = "SDM vol. 2, SYSENTER/SYSEXIT outside IA-32e mode: flat 32-bit CS = IA32_SYSENTER_CS, SS = CS + 8, ESP/EIP from the MSRs; SYSEXIT back to CS + 16 | 3, SS + 24 | 3 with ESP = ECX, EIP = EDX")]
    public void LegacySysenterAndSysexit()
    {
        // In the 32-bit CpuHarness the user segments are 0x1B/0x23 = SYSENTER_CS 0x08 + 16/24, RPL 3.
        var h = new CpuHarness();
        h.Load(TargetCode, a =>
        {
            a.mov(ecx, CpuHarness.UserStackTop - 4);
            a.mov(edx, CpuHarness.UserCodeBase + 2);
            a.sysexit();
        });
        var stop = h.Run(a =>
        {
            WriteMsr(a, X86Cpu.MsrSysenterCs, CpuHarness.KernelCode);
            WriteMsr(a, X86Cpu.MsrSysenterEsp, 0xFFFF_FFFF_0000_0000ul | CpuHarness.Ring0StackTop);
            WriteMsr(a, X86Cpu.MsrSysenterEip, TargetCode);
            CpuHarness.EnterUser(a, RFlags.Reserved1 | RFlags.IF);
        }, a =>
        {
            a.sysenter(); // 2 bytes
            a.ud2();
        });
        Assert.Multiple(() =>
        {
            Assert.That(stop, Is.EqualTo(StopReason.Halted));
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD), "back at CPL3 after the SYSENTER");
            Assert.That(h.Frame(0), Is.EqualTo(CpuHarness.UserCodeBase + 2));
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.UserCode), "0x08 + 16, RPL 3");
            Assert.That(h.Frame(2) & RFlags.IF, Is.Zero, "SYSENTER cleared IF; SYSEXIT leaves RFLAGS alone");
            Assert.That(h.Frame(3), Is.EqualTo(CpuHarness.UserStackTop - 4), "ESP = ECX");
            Assert.That(h.Frame(4), Is.EqualTo((uint)CpuHarness.UserData), "0x08 + 24, RPL 3");
        });
    }

    [TestCase(TestName = "SDM vol. 2, RDFSBASE: #UD outside 64-bit mode (compatibility mode)")]
    public void RdfsbaseInCompatibilityMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            EnableFsGsBase(a);
            EnterUser(a, cs: User32);
        }, a => a.db(0xF3, 0x0F, 0xAE, 0xC0), userBitness: 32);
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD));
    }
}
