using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// User-mode instruction prevention (SDM vol. 3, 2.5, CR4.UMIP bit 11; enumerated by
/// CPUID.(EAX=7,ECX=0):ECX bit 2). With CR4.UMIP set, SGDT, SIDT, SLDT, SMSW and STR are #GP(0)
/// at CPL &gt; 0, virtual-8086 mode included, and store nothing; CPL 0 is unaffected. Where CPUID
/// does not enumerate UMIP, CR4.UMIP is reserved. The stores themselves follow SDM vol. 2 (SGDT,
/// SIDT, SLDT, STR, SMSW): to memory 16 bits (6 or 10 bytes for the table registers); SMSW to a
/// register writes CR0 to the operand size.
/// </summary>
[TestFixture]
public sealed class UmipTests
{
    private const uint Buffer = CpuHarness.DataBase;
    private const uint Fill = 0xAAAAAAAA;

    /// <summary>MOV EAX, CR4; OR EAX, UMIP; MOV CR4, EAX.</summary>
    private static void SetUmip(Assembler a)
    {
        a.mov(eax, cr4);
        a.or(eax, (int)Cr4.UMIP);
        a.mov(cr4, eax);
    }

    /// <summary>The five instructions, each storing to <see cref="Buffer"/> or to EAX.</summary>
    private static void EmitStore(Assembler a, string form)
    {
        switch (form)
        {
            case "sgdt m": a.sgdt(__fword_ptr[Buffer]); break;
            case "sidt m": a.sidt(__fword_ptr[Buffer]); break;
            case "sldt m16": a.sldt(__word_ptr[Buffer]); break;
            case "sldt r32": a.sldt(eax); break;
            case "str m16": a.str(__word_ptr[Buffer]); break;
            case "str r32": a.str(eax); break;
            case "smsw m16": a.smsw(__word_ptr[Buffer]); break;
            case "smsw r16": a.smsw(ax); break;
            case "smsw r32": a.smsw(eax); break;
            default: throw new ArgumentException(form);
        }
    }

    private static CpuHarness RunUser(Action<Assembler> prelude, Action<Assembler> user)
    {
        var h = new CpuHarness();
        h.WriteU32(Buffer, Fill);
        h.WriteU32(Buffer + 4, Fill);
        var stop = h.Run(
            a =>
            {
                prelude(a);
                CpuHarness.EnterUser(a);
            },
            a =>
            {
                a.mov(eax, Fill);
                user(a);
                a.@int(CpuHarness.ExitVector);
            });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return h;
    }

    [TestCase(TestName = "UMIP is enumerated: CPUID.(EAX=7,ECX=0):ECX bit 2 is set")]
    public void CpuidEnumeratesUmip()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(eax, 7);
            a.xor(ecx, ecx);
            a.cpuid();
            a.hlt();
        });
        Assert.That(h.Cpu.Ecx & (1u << 2), Is.Not.Zero);
    }

    [TestCase(TestName = "With UMIP enumerated, MOV to CR4 sets CR4.UMIP (bit 11) and MOV from CR4 reads it back")]
    public void Cr4UmipIsWritable()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            SetUmip(a);
            a.mov(ebx, cr4);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "no fault");
            Assert.That(h.Cpu.Ebx & (uint)Cr4.UMIP, Is.EqualTo((uint)Cr4.UMIP));
        });
    }

    [TestCase(0u, false, TestName = "Without CPUID.(7,0):ECX.UMIP, CR4.UMIP is a reserved bit (MOV to CR4 with it is #GP(0))")]
    [TestCase(1u << 2, true, TestName = "With CPUID.(7,0):ECX.UMIP, CR4.UMIP is a valid bit")]
    public void Cr4UmipFollowsCpuid(uint leaf7Ecx, bool valid)
    {
        // SDM vol. 2, MOV to CR4: a 1 in a reserved bit is #GP(0); the processor model derives its
        // reserved bits from the features it enumerates.
        ulong bits = X86Cpu.Cr4ValidBits(leaf7Ecx);
        Assert.That((bits & Cr4.UMIP) != 0, Is.EqualTo(valid));
    }

    // Expected stores at CPL 0, from the harness: GDTR = 0x1000 / 8 * 8 - 1, IDTR = 0x2000 / 0x7FF
    // (256 gates of 8 bytes), LDTR null, TR = 0x28, CR0 = PE | ET = 0x11. SGDT/SIDT store the limit
    // in bytes 0-1 and the base in bytes 2-5; the selector stores and SMSW m16 write bytes 0-1 only.
    [TestCase("sgdt m", (uint)CpuHarness.GdtLimit, CpuHarness.GdtBase, TestName = "UMIP does not apply at CPL 0: SGDT stores the GDTR limit and base")]
    [TestCase("sidt m", 0x7FFu, CpuHarness.IdtBase, TestName = "UMIP does not apply at CPL 0: SIDT stores the IDTR limit and base")]
    [TestCase("sldt m16", 0u, null, TestName = "UMIP does not apply at CPL 0: SLDT stores the null LDTR")]
    [TestCase("str m16", (uint)CpuHarness.TssSelector, null, TestName = "UMIP does not apply at CPL 0: STR stores TR")]
    [TestCase("smsw m16", 0x11u, null, TestName = "UMIP does not apply at CPL 0: SMSW stores CR0[15:0]")]
    public void Cpl0IsUnaffected(string form, uint expectedLow16, uint? expectedBase)
    {
        var h = new CpuHarness();
        h.WriteU32(Buffer, Fill);
        h.WriteU32(Buffer + 4, Fill);
        h.Run(a =>
        {
            SetUmip(a);
            EmitStore(a, form);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "no fault");
            Assert.That(h.ReadU32(Buffer) & 0xFFFF, Is.EqualTo(expectedLow16), "bytes 0-1");
            if (expectedBase is { } @base)
            {
                Assert.That((h.ReadU32(Buffer) >> 16) | (h.ReadU32(Buffer + 4) << 16), Is.EqualTo(@base), "base in bytes 2-5");
                Assert.That(h.ReadU32(Buffer + 4) >> 16, Is.EqualTo(Fill >> 16), "bytes 6-7 untouched");
            }
            else
            {
                Assert.That(h.ReadU32(Buffer) >> 16, Is.EqualTo(Fill >> 16), "bytes 2-3 untouched");
            }
        });
    }

    [TestCase("sgdt m", TestName = "UMIP: SGDT m at CPL 3 is #GP(0), nothing stored")]
    [TestCase("sidt m", TestName = "UMIP: SIDT m at CPL 3 is #GP(0), nothing stored")]
    [TestCase("sldt m16", TestName = "UMIP: SLDT m16 at CPL 3 is #GP(0), nothing stored")]
    [TestCase("sldt r32", TestName = "UMIP: SLDT r32 at CPL 3 is #GP(0), EAX unchanged")]
    [TestCase("str m16", TestName = "UMIP: STR m16 at CPL 3 is #GP(0), nothing stored")]
    [TestCase("str r32", TestName = "UMIP: STR r32 at CPL 3 is #GP(0), EAX unchanged")]
    [TestCase("smsw m16", TestName = "UMIP: SMSW m16 at CPL 3 is #GP(0), nothing stored")]
    [TestCase("smsw r16", TestName = "UMIP: SMSW r16 at CPL 3 is #GP(0), AX unchanged")]
    [TestCase("smsw r32", TestName = "UMIP: SMSW r32 at CPL 3 is #GP(0), EAX unchanged")]
    public void Cpl3Faults(string form)
    {
        var h = RunUser(SetUmip, a => EmitStore(a, form));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP), "vector");
            Assert.That(h.Frame(0), Is.Zero, "error code 0");
            Assert.That(h.Frame(1), Is.EqualTo(CpuHarness.UserCodeBase + 5), "saved EIP = the instruction (after MOV EAX, imm32)");
            Assert.That(h.Frame(2), Is.EqualTo((uint)CpuHarness.UserCode), "from CPL 3");
            Assert.That(h.ReadU32(Buffer), Is.EqualTo(Fill), "memory unchanged");
            Assert.That(h.ReadU32(Buffer + 4), Is.EqualTo(Fill), "memory unchanged");
            Assert.That(h.Cpu.Eax, Is.EqualTo(Fill), "register unchanged");
        });
    }

    // CR0 at CPL 3 here: PE | ET | WP | AM (set by the kernel) = 0x00050011. SDM vol. 2, SMSW: "In
    // non-64-bit modes, when the destination operand is a 32-bit register, the low-order 16 bits of
    // register CR0 are copied into the low-order 16 bits of the register and the high-order 16 bits
    // are undefined", so SMSW r32 here is checked in bits 15:0 only (mask 0000FFFF); in 64-bit mode
    // the SDM defines r32 and r64 as zero-extended CR0 (LongMode below).
    [TestCase("smsw r32", 0x0000FFFFu, 0x00000011u, TestName = "Without UMIP, SMSW r32 at CPL 3 stores CR0[15:0] in EAX[15:0] (EAX[31:16] undefined outside 64-bit mode)")]
    [TestCase("smsw r16", 0xFFFFFFFFu, 0xAAAA0011u, TestName = "Without UMIP, SMSW r16 at CPL 3 stores CR0[15:0] and keeps EAX[31:16]")]
    [TestCase("sldt r32", 0xFFFFFFFFu, 0u, TestName = "Without UMIP, SLDT r32 at CPL 3 zero-extends the null LDTR selector")]
    [TestCase("str r32", 0xFFFFFFFFu, (uint)CpuHarness.TssSelector, TestName = "Without UMIP, STR r32 at CPL 3 zero-extends TR")]
    public void RegisterFormsWithoutUmip(string form, uint definedBits, uint expectedEax)
    {
        var h = RunUser(
            a =>
            {
                a.mov(eax, cr0);
                a.or(eax, (int)(Cr0.WP | Cr0.AM));
                a.mov(cr0, eax);
            },
            a => EmitStore(a, form));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "no fault");
            Assert.That(h.Cpu.Eax & definedBits, Is.EqualTo(expectedEax));
        });
    }

    [TestCase(TestName = "SMSW m16 stores CR0[15:0] only, also with a 32-bit operand size: bytes 2-3 untouched")]
    public void SmswMemoryIsAlwaysSixteenBits()
    {
        var h = new CpuHarness();
        h.WriteU32(Buffer, Fill);
        h.Run(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, (int)Cr0.AM);
            a.mov(cr0, eax);
            a.smsw(__word_ptr[Buffer]);
            a.hlt();
        });
        Assert.That(h.ReadU32(Buffer), Is.EqualTo((Fill & 0xFFFF0000) | 0x11u), "PE | ET; AM (bit 18) is not stored");
    }

    private const ushort V86Code = 0x1200, V86Stack = 0x1300, V86Data = 0x2000;

    /// <summary>
    /// Enters virtual-8086 mode (CPL 3; SDM vol. 3, 20.2) at V86Code:0 with IOPL 3 by IRETD, after
    /// <paramref name="prelude"/> at CPL 0, and runs <paramref name="v86"/> (16-bit code), then INT 0x81.
    /// </summary>
    private static TaskHarness RunV86(Action<Assembler> prelude, Action<Assembler> v86)
    {
        var t = new TaskHarness();
        var code = new Assembler(16);
        v86(code);
        code.@int(CpuHarness.ExitVector);
        using (var stream = new MemoryStream())
        {
            code.Assemble(new StreamCodeWriter(stream), (ulong)V86Code << 4);
            t.H.WriteBytes((uint)V86Code << 4, stream.ToArray());
        }

        t.H.WriteU32((uint)V86Data << 4, Fill);
        var stop = t.Run(a =>
        {
            prelude(a);
            foreach (uint selector in (uint[])[0, 0, V86Data, V86Data, V86Stack])
                a.push(selector); // GS, FS, DS, ES, SS
            a.push(0x0F00u); // SP
            a.push(VM | IOPL | Reserved1);
            a.push((uint)V86Code);
            a.push(0u); // IP
            a.iretd();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return t;
    }

    [TestCase("sgdt", TestName = "UMIP in virtual-8086 mode (CPL 3): SGDT is #GP(0)")]
    [TestCase("sidt", TestName = "UMIP in virtual-8086 mode (CPL 3): SIDT is #GP(0)")]
    [TestCase("smsw", TestName = "UMIP in virtual-8086 mode (CPL 3): SMSW is #GP(0)")]
    public void Virtual8086Faults(string form)
    {
        var t = RunV86(SetUmip, a =>
        {
            if (form == "sgdt")
                a.sgdt(__[0]);
            else if (form == "sidt")
                a.sidt(__[0]);
            else
                a.smsw(__word_ptr[0]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.GP), "vector");
            Assert.That(t.H.Frame(0), Is.Zero, "error code 0");
            Assert.That(t.H.Frame(1), Is.Zero, "saved IP = the instruction");
            Assert.That((t.H.Frame(3) & VM) != 0, Is.True, "taken from virtual-8086 mode");
            Assert.That(t.H.ReadU32((uint)V86Data << 4), Is.EqualTo(Fill), "nothing stored");
        });
    }

    [TestCase("sldt", TestName = "SLDT in virtual-8086 mode is #UD (not recognised), before UMIP's #GP")]
    [TestCase("str", TestName = "STR in virtual-8086 mode is #UD (not recognised), before UMIP's #GP")]
    public void Virtual8086SelectorStoresAreUndefined(string form)
    {
        var t = RunV86(SetUmip, a =>
        {
            if (form == "sldt")
                a.sldt(__word_ptr[0]);
            else
                a.str(__word_ptr[0]);
        });
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.UD), "vector");
            Assert.That(t.H.Frame(0), Is.Zero, "saved IP = the instruction");
        });
    }

    [TestCase(TestName = "Without UMIP, SMSW in virtual-8086 mode stores CR0[15:0]")]
    public void Virtual8086SmswWithoutUmip()
    {
        var t = RunV86(_ => { }, a => a.smsw(__word_ptr[0]));
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo(CpuHarness.ExitVector), "no fault");
            Assert.That(t.H.ReadU32((uint)V86Data << 4), Is.EqualTo((Fill & 0xFFFF0000) | 0x11u), "PE | ET");
        });
    }

    [TestCase(TestName = "UMIP in 64-bit mode: SIDT at CPL 3 is #GP(0); SMSW r64 at CPL 0 stores CR0[63:0]")]
    public void LongMode()
    {
        var h = new LongModeHarness();
        h.RunToHalt(
            a =>
            {
                a.mov(rax, cr4);
                a.or(rax, (int)Cr4.UMIP);
                a.mov(cr4, rax);
                a.mov(rbx, -1L);
                a.smsw(rbx);
                LongModeHarness.EnterUser(a);
            },
            a =>
            {
                a.sidt(__[LongModeHarness.DataBase]);
                a.@int(LongModeHarness.ExitVector);
            });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP), "vector");
            Assert.That(h.Frame(0), Is.Zero, "error code 0");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)LongModeHarness.UserCodeBase), "saved RIP = the instruction");
            Assert.That(h.ReadU64(LongModeHarness.DataBase), Is.Zero, "nothing stored");
            // IA-32e mode runs with CR0.PG and PE set and CR0[63:32] reserved (zero): SMSW r64
            // replaces all 64 bits of RBX (all ones before) with CR0, so bit 31 is set and 63:32 clear.
            ulong rbx = h.Cpu[X86Cpu.RBX];
            Assert.That(rbx & (Cr0.PG | Cr0.PE), Is.EqualTo(Cr0.PG | Cr0.PE), "SMSW r64: CR0.PG and PE");
            Assert.That(rbx >> 32, Is.Zero, "SMSW r64: CR0[63:32] = 0 replaces RBX[63:32]");
        });
    }
}
