using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Protection checks at CPL3 (SDM vol. 3, chapters 5 and 6; vol. 1, 18.5). The kernel enters user
/// code with IRETD; faults there switch to SS0:ESP0 from the TSS and push
/// [error code,] EIP, CS, EFLAGS, ESP, SS (figure 6-4, privilege change). User code that does not
/// fault ends with INT 0x81 through a DPL3 trap gate.
/// </summary>
[TestFixture]
public sealed class PrivilegeTests
{
    private const uint Ring0Top = CpuHarness.Ring0StackTop;

    private static CpuHarness RunUser(Action<Assembler> user, uint userFlags = Reserved1, Action<CpuHarness>? setup = null,
        ushort stackSelector = CpuHarness.UserData, uint stackPointer = CpuHarness.UserStackTop)
    {
        var h = new CpuHarness();
        setup?.Invoke(h);
        var stop = h.Run(a => CpuHarness.EnterUser(a, userFlags, stackSelector, stackPointer), user);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return h;
    }

    /// <summary>Asserts a fault from the first user instruction with an error code, delivered on the ring-0 stack.</summary>
    private static void AssertUserFault(CpuHarness h, X86Vector vector, uint errorCode, uint eip = CpuHarness.UserCodeBase)
    {
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)vector), "vector");
            Assert.That(h.Cpu.Esp, Is.EqualTo(Ring0Top - 24), "error code, EIP, CS, EFLAGS, ESP, SS on the TSS stack");
            Assert.That(h.Frame(0), Is.EqualTo(errorCode), "error code");
            Assert.That(h.Frame(1), Is.EqualTo(eip), "saved EIP = the faulting instruction");
            Assert.That(h.Frame(2), Is.EqualTo((uint)CpuHarness.UserCode), "saved CS");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(CpuHarness.KernelData), "SS0 from the TSS");
            Assert.That(h.Cpu.Cpl, Is.EqualTo(0), "handler runs at CPL0");
        });
    }

    [TestCase(TestName = "IRETD to a DPL3 code segment runs at CPL3, and INT through a DPL3 trap gate returns to ring 0 with the full frame")]
    public void IretEntersCpl3()
    {
        var h = RunUser(a =>
        {
            a.mov(eax, 0x1234u);
            a.@int(CpuHarness.ExitVector);
        }, userFlags: Reserved1 | CF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Esp, Is.EqualTo(Ring0Top - 20), "EIP, CS, EFLAGS, ESP, SS");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.UserCode), "saved CS has RPL 3");
            Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | CF), "saved EFLAGS");
            Assert.That(h.Frame(3), Is.EqualTo(CpuHarness.UserStackTop), "saved ESP");
            Assert.That(h.Frame(4), Is.EqualTo((uint)CpuHarness.UserData), "saved SS");
            Assert.That(h.Cpu.Segments[X86Cpu.SS].Selector, Is.EqualTo(CpuHarness.KernelData), "SS0 from the TSS");
        });
    }

    [TestCase(3, TestName = "INT 3 at CPL3 through a DPL0 gate raises #GP(3 * 8 + 2 = 0x1A)")]
    [TestCase(0x80, TestName = "INT 0x80 at CPL3 through a DPL0 gate raises #GP(0x80 * 8 + 2 = 0x402)")]
    public void SoftwareInterruptThroughDpl0GateAtCpl3(int vector)
    {
        var h = RunUser(a => a.@int((byte)vector));
        // SDM 6.12.1.1 and 6.13: the error code names the IDT entry: index << 3 | IDT bit (2), EXT = 0.
        AssertUserFault(h, X86Vector.GP, (uint)((vector * 8) + 2));
    }

    [TestCase(TestName = "INT3 (CC) at CPL3 through a DPL0 gate raises #GP(0x1A) with EIP at the INT3")]
    public void Int3ThroughDpl0GateAtCpl3()
    {
        var h = RunUser(a => a.int3());
        AssertUserFault(h, X86Vector.GP, 0x1A);
    }

    [TestCase(TestName = "ICEBP (F1) at CPL3 ignores the DPL0 gate of vector 1 and is delivered as #DB, a trap after the F1")]
    public void IcebpIgnoresGateDpl()
    {
        var h = RunUser(a => a.int1());
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DB));
            Assert.That(h.Cpu.Esp, Is.EqualTo(Ring0Top - 20), "no error code");
            Assert.That(h.Frame(0), Is.EqualTo(CpuHarness.UserCodeBase + 1), "saved EIP after the one-byte F1");
        });
    }

    [TestCase(TestName = "CLI at CPL3 with IOPL 0 raises #GP(0) and leaves IF set")]
    public void CliAtCpl3WithIopl0Faults()
    {
        var h = RunUser(a => a.cli(), userFlags: Reserved1 | IF);
        AssertUserFault(h, X86Vector.GP, 0);
        Assert.That(h.Frame(3) & IF, Is.EqualTo(IF), "IF still set in the saved image");
    }

    [TestCase(TestName = "CLI at CPL3 with IOPL 3 clears IF without a fault")]
    public void CliAtCpl3WithIopl3Works()
    {
        var h = RunUser(a =>
        {
            a.cli();
            a.@int(CpuHarness.ExitVector);
        }, userFlags: Reserved1 | IF | IOPL);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Frame(2) & IF, Is.EqualTo(0u));
        });
    }

    [TestCase(TestName = "POPFD at CPL3 with IOPL 0 changes CF but leaves IF and IOPL unchanged, without a fault")]
    public void PopfAtCpl3KeepsIfAndIopl()
    {
        var h = RunUser(a =>
        {
            a.push(IOPL | CF | Reserved1); // IOPL 3, IF 0, CF 1
            a.popfd();
            a.@int(CpuHarness.ExitVector);
        }, userFlags: Reserved1 | IF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | IF | CF), "IF stays 1, IOPL stays 0, CF became 1");
        });
    }

    [TestCase("out imm8", TestName = "OUT 0xE9, AL at CPL3 with IOPL 0 and no I/O bitmap raises #GP(0), nothing logged")]
    [TestCase("out dx", TestName = "OUT DX, AL at CPL3 with IOPL 0 and no I/O bitmap raises #GP(0), nothing logged")]
    [TestCase("in dx", TestName = "IN AL, DX at CPL3 with IOPL 0 and no I/O bitmap raises #GP(0)")]
    [TestCase("outsb", TestName = "OUTSB at CPL3 with IOPL 0 and no I/O bitmap raises #GP(0), nothing logged")]
    public void PortIoAtCpl3WithoutPermissionFaults(string form)
    {
        var h = RunUser(a =>
        {
            switch (form)
            {
                case "out imm8": a.@out(0xE9, al); break;
                case "out dx": a.@out(dx, al); break;
                case "in dx": a.@in(al, dx); break;
                default: a.outsb(); break;
            }
        });
        AssertUserFault(h, X86Vector.GP, 0);
        Assert.That(h.Vm.Log.Length, Is.EqualTo(0));
    }

    [TestCase(TestName = "A user stack segment limit violation raises #SS(0), delivered on the ring-0 stack")]
    public void StackSegmentLimitRaisesStackFault()
    {
        // SS = 0x3B, limit 0xFFF, ESP = 0x1000: POP reads offsets 0x1000-0x1003, beyond the limit.
        var h = RunUser(a => a.pop(eax), stackSelector: CpuHarness.SmallUserData, stackPointer: 0x1000);
        AssertUserFault(h, X86Vector.SS, 0);
        Assert.Multiple(() =>
        {
            Assert.That(h.Frame(4), Is.EqualTo(0x1000u), "saved ESP unchanged by the faulting POP");
            Assert.That(h.Frame(5), Is.EqualTo((uint)CpuHarness.SmallUserData), "saved SS");
        });
    }

    [TestCase(TestName = "OUT to port 0xE9 at CPL0 appends the byte to the console log")]
    public void OutToDebugPortLogs()
    {
        var h = new CpuHarness();
        h.WriteBytes(CpuHarness.DataBase, "llo\r\n"u8);
        h.Run(a =>
        {
            a.mov(al, (byte)'H');
            a.@out(0xE9, al);
            a.mov(dx, (ushort)0xE9);
            a.mov(al, (byte)'e');
            a.@out(dx, al);
            a.mov(esi, CpuHarness.DataBase);
            a.mov(ecx, 5u);
            a.mov(dx, (ushort)0x12); // upstream XTF's port, rep outsb
            a.rep.outsb();
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Vm.Log.Text, Is.EqualTo("Hello\r\n"));
        });
    }

    [TestCase(TestName = "IRET to CPL3 loads null into DS when it holds a DPL0 data segment; an access through it then raises #GP(0)")]
    public void IretToOuterLevelNullsInaccessibleDataSegments()
    {
        var h = new CpuHarness();
        var stop = h.Run(
            a =>
            {
                // Unlike CpuHarness.EnterUser, DS keeps the DPL0 data segment 0x10.
                a.push(CpuHarness.UserData);
                a.push(CpuHarness.UserStackTop);
                a.push(Reserved1);
                a.push(CpuHarness.UserCode);
                a.push(CpuHarness.UserCodeBase);
                a.iretd();
            },
            a => a.mov(eax, __dword_ptr[CpuHarness.DataBase]));
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        AssertUserFault(h, X86Vector.GP, 0);
        Assert.That(h.Cpu.Segments[X86Cpu.DS].Selector, Is.EqualTo((ushort)0), "DS was nulled by the IRET");
    }

    /// <summary>
    /// A TSS whose I/O permission bitmap (at offset 0x68) covers ports 0-0xFF, followed by the
    /// all-ones byte the SDM asks for, with the bits for <paramref name="deniedPorts"/> set.
    /// </summary>
    private static void WithIoBitmap(CpuHarness h, uint limit, params int[] deniedPorts)
    {
        h.TssLimit = limit;
        var bitmap = new byte[33];
        bitmap[32] = 0xFF;
        foreach (int port in deniedPorts)
            bitmap[port >> 3] |= (byte)(1 << (port & 7));
        h.WriteBytes(CpuHarness.TssBase + 0x68, bitmap);
    }

    [TestCase(TestName = "OUT 0xE9 at CPL3 with IOPL 0 is allowed when the TSS I/O bitmap bit for port 0xE9 is clear")]
    public void IoBitmapClearBitAllowsPort()
    {
        var h = RunUser(a =>
        {
            a.mov(al, (byte)'u');
            a.@out(0xE9, al);
            a.@int(CpuHarness.ExitVector);
        }, setup: h => WithIoBitmap(h, 0x68 + 32));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Vm.Log.Text, Is.EqualTo("u"));
        });
    }

    [TestCase(0xE9, TestName = "OUT 0xE9, AL at CPL3 with the bitmap bit for 0xE9 set raises #GP(0)")]
    [TestCase(0xE8, TestName = "OUT DX=0xE8, AX at CPL3 checks the bits of ports 0xE8 and 0xE9: 0xE9 denied raises #GP(0)")]
    public void IoBitmapSetBitDeniesPort(int port)
    {
        var h = RunUser(a =>
        {
            if (port == 0xE9)
            {
                a.@out(0xE9, al);
            }
            else
            {
                a.mov(dx, (ushort)port);
                a.@out(dx, ax);
            }
        }, setup: h => WithIoBitmap(h, 0x68 + 32, 0xE9));
        uint eip = port == 0xE9 ? CpuHarness.UserCodeBase : CpuHarness.UserCodeBase + 4; // mov dx, imm16 is 4 bytes
        AssertUserFault(h, X86Vector.GP, 0, eip);
        Assert.That(h.Vm.Log.Length, Is.EqualTo(0));
    }

    [TestCase(TestName = "The processor reads two bitmap bytes: with the byte after port 0xE9's beyond the TSS limit, OUT 0xE9 raises #GP(0)")]
    public void IoBitmapSecondByteBeyondLimitDenies()
    {
        // Port 0xE9 lives in bitmap byte 0x1D (offset 0x68 + 0x1D); a limit ending on that byte
        // leaves the second byte read (0x68 + 0x1E) outside the TSS.
        var h = RunUser(a => a.@out(0xE9, al), setup: h => WithIoBitmap(h, 0x68 + 0x1D));
        AssertUserFault(h, X86Vector.GP, 0);
    }

    [TestCase(TestName = "POPFD at CPL3 with IOPL 3 may change IF but still not IOPL")]
    public void PopfAtCpl3WithIopl3ChangesIfOnly()
    {
        var h = RunUser(a =>
        {
            a.push(Reserved1); // IOPL 0, IF 0
            a.popfd();
            a.@int(CpuHarness.ExitVector);
        }, userFlags: Reserved1 | IF | IOPL);
        Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | IOPL), "IF cleared, IOPL still 3");
    }

    [TestCase("hlt", TestName = "HLT at CPL3 raises #GP(0)")]
    [TestCase("mov cr0", TestName = "MOV CR0, EAX at CPL3 raises #GP(0)")]
    [TestCase("mov from cr3", TestName = "MOV EAX, CR3 at CPL3 raises #GP(0)")]
    [TestCase("mov dr7", TestName = "MOV DR7, EAX at CPL3 raises #GP(0)")]
    [TestCase("lgdt", TestName = "LGDT at CPL3 raises #GP(0)")]
    [TestCase("lidt", TestName = "LIDT at CPL3 raises #GP(0)")]
    [TestCase("ltr", TestName = "LTR at CPL3 raises #GP(0)")]
    [TestCase("lldt", TestName = "LLDT at CPL3 raises #GP(0)")]
    [TestCase("rdmsr", TestName = "RDMSR at CPL3 raises #GP(0)")]
    [TestCase("wrmsr", TestName = "WRMSR at CPL3 raises #GP(0)")]
    [TestCase("clts", TestName = "CLTS at CPL3 raises #GP(0)")]
    [TestCase("invlpg", TestName = "INVLPG at CPL3 raises #GP(0)")]
    [TestCase("wbinvd", TestName = "WBINVD at CPL3 raises #GP(0)")]
    [TestCase("sti", TestName = "STI at CPL3 with IOPL 0 raises #GP(0)")]
    public void PrivilegedInstructionAtCpl3(string form)
    {
        var h = RunUser(a =>
        {
            switch (form)
            {
                case "hlt": a.hlt(); break;
                case "mov cr0": a.mov(cr0, eax); break;
                case "mov from cr3": a.mov(eax, cr3); break;
                case "mov dr7": a.mov(dr7, eax); break;
                case "lgdt": a.lgdt(__fword_ptr[CpuHarness.DataBase]); break;
                case "lidt": a.lidt(__fword_ptr[CpuHarness.DataBase]); break;
                case "ltr": a.ltr(ax); break;
                case "lldt": a.lldt(ax); break;
                case "rdmsr": a.rdmsr(); break;
                case "wrmsr": a.wrmsr(); break;
                case "clts": a.clts(); break;
                case "invlpg": a.invlpg(__byte_ptr[CpuHarness.DataBase]); break;
                case "wbinvd": a.wbinvd(); break;
                default: a.sti(); break;
            }
        });
        AssertUserFault(h, X86Vector.GP, 0);
    }

    [TestCase("ds", (ushort)0x10, 0x10u, TestName = "MOV DS at CPL3 with the DPL0 data segment 0x10 raises #GP(0x10) (DPL < CPL)")]
    [TestCase("ds", (ushort)0x0B, 0x08u, TestName = "MOV DS at CPL3 with the DPL0 code segment 0x0B raises #GP(0x08) (DPL < CPL, no RPL in the error code)")]
    [TestCase("ds", (ushort)0x4B, 0x48u, TestName = "MOV DS at CPL3 with selector 0x4B beyond the GDT limit raises #GP(0x48)")]
    [TestCase("ss", (ushort)0x20, 0x20u, TestName = "MOV SS at CPL3 with selector 0x20 (RPL 0 != CPL 3) raises #GP(0x20)")]
    [TestCase("ss", (ushort)0x13, 0x10u, TestName = "MOV SS at CPL3 with selector 0x13 (DPL 0 != CPL 3) raises #GP(0x10)")]
    [TestCase("ss", (ushort)0x1B, 0x18u, TestName = "MOV SS at CPL3 with the code segment 0x1B (not writable data) raises #GP(0x18)")]
    public void SegmentLoadAtCpl3Faults(string register, ushort selector, uint errorCode)
    {
        bool stack = register == "ss";
        var h = RunUser(a =>
        {
            a.mov(ax, selector); // 66 B8 iw: 4 bytes
            if (stack)
                a.mov(ss, ax);
            else
                a.mov(ds, ax);
        });
        AssertUserFault(h, X86Vector.GP, errorCode, CpuHarness.UserCodeBase + 4);
    }

    [TestCase(TestName = "MOV DS at CPL3 with the readable DPL3 code segment 0x1B is allowed")]
    public void LoadingReadableUserCodeIntoDsIsAllowed()
    {
        var h = RunUser(a =>
        {
            a.mov(ax, CpuHarness.UserCode);
            a.mov(ds, ax);
            a.@int(CpuHarness.ExitVector);
        });
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
    }

    [TestCase(TestName = "INT through a DPL3 gate to a ring-0 handler and IRETD back: CPL3 resumes after the INT with its own SS:ESP")]
    public void InterruptAndIretRoundTrip()
    {
        var h = RunUser(
            a =>
            {
                a.mov(esp, CpuHarness.UserStackTop - 0x10);
                a.@int(0x80);
                a.mov(ecx, ebx);
                a.mov(edx, esp);
                a.@int(CpuHarness.ExitVector);
            },
            setup: h =>
            {
                h.SetGate(0x80, SystemDescriptorType.InterruptGate32, 3);
                h.SetHandler(0x80, a =>
                {
                    a.mov(ebx, 0xAAu);
                    a.iretd();
                });
            });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Ecx, Is.EqualTo(0xAAu), "the handler ran");
            Assert.That(h.Cpu.Edx, Is.EqualTo(CpuHarness.UserStackTop - 0x10), "ESP restored from the frame");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.UserCode), "back at CPL3 when the exit INT was taken");
            Assert.That(h.Frame(4), Is.EqualTo((uint)CpuHarness.UserData), "SS restored from the frame");
        });
    }
}
