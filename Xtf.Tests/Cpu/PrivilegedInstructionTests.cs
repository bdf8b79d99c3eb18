using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Privileged and mode-dependent instructions (SDM vol. 3, 2.8 and 5.9; vol. 2 per instruction):
/// #GP(0) at CPL &gt; 0, CR4.UMIP / TSD / PCE, and the order of checks (#UD before #GP, table 6-2).
/// PrivilegeTests covers HLT, MOV CR/DR, LGDT, LIDT, LTR, LLDT, RDMSR, WRMSR, CLTS, INVLPG and
/// WBINVD at CPL 3; the rest of the list is here.
/// </summary>
[TestFixture]
public sealed class PrivilegedInstructionTests
{
    /// <summary>Runs <paramref name="prelude"/> at CPL 0, then <paramref name="user"/> at CPL 3, which ends with INT 0x81.</summary>
    private static CpuHarness RunUser(Action<Assembler> user, Action<Assembler>? prelude = null)
    {
        var h = new CpuHarness();
        var stop = h.Run(
            a =>
            {
                prelude?.Invoke(a);
                CpuHarness.EnterUser(a);
            },
            a =>
            {
                user(a);
                a.@int(CpuHarness.ExitVector);
            });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return h;
    }

    /// <summary>Emits MOV EAX, CR4; OR EAX, bits; MOV CR4, EAX.</summary>
    private static Action<Assembler> SetCr4(ulong bits) => a =>
    {
        a.mov(eax, cr4);
        a.or(eax, (int)bits);
        a.mov(cr4, eax);
    };

    private static void AssertUserFault(CpuHarness h, X86Vector vector, uint? errorCode)
    {
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)vector), "vector");
            if (errorCode is { } ec)
            {
                Assert.That(h.Frame(0), Is.EqualTo(ec), "error code");
                Assert.That(h.Frame(1), Is.EqualTo(CpuHarness.UserCodeBase), "saved EIP = the instruction");
            }
            else
            {
                Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.Ring0StackTop - 20), "no error code");
                Assert.That(h.Frame(0), Is.EqualTo(CpuHarness.UserCodeBase), "saved EIP = the instruction");
            }
        });
    }

    private static void AssertNoFault(CpuHarness h) =>
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "user code ran to INT 0x81");

    [TestCase("lmsw", TestName = "LMSW at CPL3 raises #GP(0)")]
    [TestCase("invd", TestName = "INVD at CPL3 raises #GP(0)")]
    [TestCase("mov from dr6", TestName = "MOV EAX, DR6 at CPL3 raises #GP(0)")]
    [TestCase("mov to cr4", TestName = "MOV CR4, EAX at CPL3 raises #GP(0)")]
    [TestCase("mov from cr0", TestName = "MOV EAX, CR0 at CPL3 raises #GP(0)")]
    [TestCase("rdpmc", TestName = "RDPMC at CPL3 with CR4.PCE clear raises #GP(0)")]
    public void PrivilegedAtCpl3RaisesGeneralProtection(string form)
    {
        var h = RunUser(a =>
        {
            switch (form)
            {
                case "lmsw": a.lmsw(ax); break;
                case "invd": a.invd(); break;
                case "mov from dr6": a.mov(eax, dr6); break;
                case "mov to cr4": a.mov(cr4, eax); break;
                case "mov from cr0": a.mov(eax, cr0); break;
                default: a.rdpmc(); break;
            }
        });
        AssertUserFault(h, X86Vector.GP, 0);
    }

    [TestCase("sgdt", TestName = "UMIP: SGDT at CPL3 with CR4.UMIP raises #GP(0)")]
    [TestCase("sidt", TestName = "UMIP: SIDT at CPL3 with CR4.UMIP raises #GP(0)")]
    [TestCase("sldt", TestName = "UMIP: SLDT at CPL3 with CR4.UMIP raises #GP(0)")]
    [TestCase("str", TestName = "UMIP: STR at CPL3 with CR4.UMIP raises #GP(0)")]
    [TestCase("smsw", TestName = "UMIP: SMSW at CPL3 with CR4.UMIP raises #GP(0)")]
    public void UmipFaultsStoresAtCpl3(string form)
    {
        var h = RunUser(a => EmitStore(a, form), SetCr4(Cr4.UMIP));
        AssertUserFault(h, X86Vector.GP, 0);
        Assert.That(h.ReadU32(CpuHarness.DataBase), Is.EqualTo(0u), "nothing stored");
    }

    [TestCase("sgdt", CpuHarness.GdtLimit, TestName = "Without UMIP, SGDT at CPL3 stores the GDTR limit")]
    [TestCase("str", (uint)CpuHarness.TssSelector, TestName = "Without UMIP, STR at CPL3 stores TR")]
    [TestCase("smsw", (uint)(Cr0.PE | Cr0.ET), TestName = "Without UMIP, SMSW at CPL3 stores CR0[15:0]")]
    public void StoresAtCpl3WithoutUmip(string form, uint expected)
    {
        var h = RunUser(a => EmitStore(a, form));
        AssertNoFault(h);
        Assert.That(h.ReadU32(CpuHarness.DataBase) & 0xFFFF, Is.EqualTo(expected));
    }

    private static void EmitStore(Assembler a, string form)
    {
        switch (form)
        {
            case "sgdt": a.sgdt(__fword_ptr[CpuHarness.DataBase]); break;
            case "sidt": a.sidt(__fword_ptr[CpuHarness.DataBase]); break;
            case "sldt": a.sldt(__word_ptr[CpuHarness.DataBase]); break;
            case "str": a.str(__word_ptr[CpuHarness.DataBase]); break;
            default: a.smsw(__word_ptr[CpuHarness.DataBase]); break;
        }
    }

    [TestCase(TestName = "UMIP does not apply at CPL 0: SGDT stores the GDTR")]
    public void UmipAllowsCpl0()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            SetCr4(Cr4.UMIP)(a);
            a.sgdt(__fword_ptr[CpuHarness.DataBase]);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.ReadU32(CpuHarness.DataBase + 2), Is.EqualTo(CpuHarness.GdtBase), "base after the limit");
        });
    }

    [TestCase(TestName = "TSD: RDTSC at CPL3 with CR4.TSD raises #GP(0)")]
    public void RdtscWithTsdAtCpl3Faults()
    {
        var h = RunUser(a => a.rdtsc(), SetCr4(Cr4.TSD));
        AssertUserFault(h, X86Vector.GP, 0);
    }

    [TestCase(TestName = "TSD: RDTSC at CPL3 without CR4.TSD reads the counter")]
    public void RdtscWithoutTsdAtCpl3Works()
    {
        var h = RunUser(a => a.rdtsc());
        AssertNoFault(h);
    }

    [TestCase(TestName = "TSD: RDTSC at CPL 0 with CR4.TSD reads the counter")]
    public void RdtscWithTsdAtCpl0Works()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            SetCr4(Cr4.TSD)(a);
            a.rdtsc();
            a.hlt();
        });
        Assert.That(h.Vector, Is.Null);
    }

    [TestCase(0u, TestName = "PCE: RDPMC at CPL3 with CR4.PCE and ECX = 0 reads counter 0 (0: no event selected)")]
    [TestCase(1u, TestName = "PCE: RDPMC at CPL3 with CR4.PCE and ECX = 1 reads counter 1")]
    public void RdpmcWithPceAtCpl3Works(uint counter)
    {
        var h = RunUser(
            a => a.rdpmc(),
            a =>
            {
                SetCr4(Cr4.PCE)(a);
                a.mov(ecx, counter);
                a.mov(eax, 0xAAAAAAAAu);
                a.mov(edx, 0xBBBBBBBBu);
            });
        Assert.Multiple(() =>
        {
            AssertNoFault(h);
            Assert.That((h.Cpu.Eax, h.Cpu.Edx), Is.EqualTo((0u, 0u)));
        });
    }

    [TestCase(TestName = "RDPMC with ECX = 2 (no such counter without CPUID leaf 0AH) raises #GP(0) even at CPL 0")]
    public void RdpmcOutOfRangeCounterFaults()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(ecx, 2u);
            a.rdpmc();
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(0u), "error code 0");
            Assert.That(h.Frame(1), Is.EqualTo(CpuHarness.CodeBase + 5), "saved EIP = the RDPMC");
        });
    }

    [TestCase(new byte[] { 0x0F, 0x22, 0xE8 }, TestName = "Order: MOV CR5, EAX at CPL3 raises #UD (no CR5), not #GP")]
    [TestCase(new byte[] { 0x0F, 0x20, 0xC8 }, TestName = "Order: MOV EAX, CR1 at CPL3 raises #UD (no CR1), not #GP")]
    [TestCase(new byte[] { 0x0F, 0x21, 0xE0 }, TestName = "Order: MOV EAX, DR4 at CPL3 with CR4.DE raises #UD, not #GP")]
    public void UndefinedBeforePrivilegeCheck(byte[] bytes)
    {
        var h = RunUser(a => a.db(bytes), SetCr4(Cr4.DE));
        AssertUserFault(h, X86Vector.UD, null);
    }

    [TestCase(TestName = "MOV EAX, DR4 with CR4.DE clear aliases DR6 at CPL 0")]
    public void Dr4AliasesDr6WithoutDebugExtensions()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.db(0x0F, 0x21, 0xE0); // MOV EAX, DR4
            a.hlt();
        });
        Assert.That(h.Cpu.Eax, Is.EqualTo(0xFFFF0FF0u));
    }

    [TestCase(TestName = "Order: MOV EAX, DR7 at CPL3 with DR7.GD set raises #DB (general detect precedes the CPL check), DR6.BD set")]
    public void GeneralDetectBeforePrivilegeCheck()
    {
        var h = RunUser(
            a => a.mov(eax, dr7),
            a =>
            {
                a.mov(eax, DebugRegisters.GD);
                a.mov(dr7, eax);
            });
        Assert.Multiple(() =>
        {
            AssertUserFault(h, X86Vector.DB, null);
            Assert.That(h.Cpu.Dr[6] & DebugRegisters.BD, Is.EqualTo((ulong)DebugRegisters.BD));
        });
    }

    [TestCase("sysenter", TestName = "SYSENTER with IA32_SYSENTER_CS[15:2] = 0 raises #GP(0)")]
    [TestCase("sysexit", TestName = "SYSEXIT at CPL3 raises #GP(0)")]
    public void FastSystemCallChecks(string form)
    {
        var h = RunUser(a =>
        {
            if (form == "sysenter")
                a.sysenter();
            else
                a.sysexit();
        });
        AssertUserFault(h, X86Vector.GP, 0);
    }

    [TestCase("syscall", TestName = "SYSCALL outside 64-bit mode raises #UD (Intel)")]
    [TestCase("sysret", TestName = "SYSRET outside 64-bit mode raises #UD (Intel), before the CPL check")]
    public void FastSystemCallsAreUndefinedHere(string form)
    {
        var h = RunUser(a =>
        {
            if (form == "syscall")
                a.syscall();
            else
                a.db(0x0F, 0x07); // SYSRET
        });
        AssertUserFault(h, X86Vector.UD, null);
    }

    [TestCase(TestName = "CPUID at CPL3 is not privileged")]
    public void CpuidAtCpl3Works()
    {
        var h = RunUser(a =>
        {
            a.xor(eax, eax);
            a.cpuid();
        });
        AssertNoFault(h);
    }

    [TestCase(TestName = "The #GP(0) of INVD at CPL3 is a fault: the saved EFLAGS image is EFLAGS with RF set")]
    public void PrivilegedFaultImage()
    {
        var h = RunUser(a => a.invd());
        Assert.That(h.Frame(3), Is.EqualTo(Reserved1 | RF));
    }
}
