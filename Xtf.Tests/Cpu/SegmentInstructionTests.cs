using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.DescriptorKit;

namespace Xtf.Tests.Cpu;

/// <summary>
/// ARPL, LAR, LSL, VERR and VERW (SDM vol. 2; vol. 3, 5.10.4 and the "Segment and Gate Types"
/// table). The instruction runs with EAX = 0xDEADBEEF as the destination; DL receives SETZ.
/// Test descriptors: 0x40-0x58 (entries 8-11).
/// </summary>
[TestFixture]
public sealed class SegmentInstructionTests
{
    private const uint Untouched = 0xDEADBEEF;

    private static (uint Eax, bool Zf) Kernel(Action<Assembler> insn, Action<CpuHarness>? setup = null)
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Untouched);
            insn(a);
            a.setz(dl);
            a.hlt();
        }, setup);
        Assert.That(h.Vector, Is.Null, "no fault");
        return (h.Cpu.Eax, (h.Cpu.Edx & 1) != 0);
    }

    private static (uint Eax, bool Zf) User(Action<Assembler> insn, Action<CpuHarness>? setup = null)
    {
        var h = RunUser(a =>
        {
            a.mov(eax, Untouched);
            insn(a);
            a.setz(dl);
            a.@int(CpuHarness.ExitVector);
        }, setup);
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "no fault");
        return (h.Cpu.Eax, (h.Cpu.Edx & 1) != 0);
    }

    private static Action<CpuHarness> With(int index, SegmentDescriptor d) => h => SetDescriptor(h, index, d);

    private static Action<Assembler> Lar(ushort selector) => a =>
    {
        a.mov(ecx, selector);
        a.lar(eax, ecx);
    };

    private static Action<Assembler> Lsl(ushort selector) => a =>
    {
        a.mov(ecx, selector);
        a.lsl(eax, ecx);
    };

    // ---- LAR ----

    [TestCase(TestName = "LAR of the flat DPL3 code segment: dword 2 AND 0x00F0FF00 = 0x00C0FB00 (G, D, P, DPL 3, S, type 0xB), ZF = 1")]
    public void LarOfCodeSegment()
    {
        var (eax, zf) = Kernel(Lar(CpuHarness.UserCode));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.True);
            Assert.That(eax, Is.EqualTo(0x00C0FB00u));
        });
    }

    [TestCase(TestName = "LAR with a 16-bit operand loads dword 2 AND 0xFF00 = 0xFB00 into AX, leaving the upper half of EAX")]
    public void LarWithWordOperand()
    {
        var (eax, zf) = Kernel(a =>
        {
            a.mov(ecx, CpuHarness.UserCode);
            a.lar(ax, cx);
        });
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.True);
            Assert.That(eax, Is.EqualTo(0xDEADFB00u));
        });
    }

    [TestCase(CpuHarness.TssSelector, 0x8B00u, TestName = "LAR of the busy 32-bit TSS gives 0x00008B00 (system type 0xB is valid)")]
    [TestCase(Sel8, 0x8200u, TestName = "LAR of an LDT descriptor gives 0x00008200 (system type 2 is valid)")]
    [TestCase(Sel9, 0x8C00u, TestName = "LAR of a 32-bit call gate gives 0x00008C00 (system type 0xC is valid)")]
    [TestCase(Sel10, 0x8500u, TestName = "LAR of a task gate gives 0x00008500 (system type 5 is valid)")]
    [TestCase(Sel11, 0x7300u, TestName = "LAR of a not-present DPL3 data segment gives 0x00007300, ZF = 1: presence is not checked")]
    public void LarOfValidSystemTypes(ushort selector, uint rights)
    {
        var (eax, zf) = Kernel(Lar(selector), h =>
        {
            SetDescriptor(h, 8, SegmentDescriptor.System(SystemDescriptorType.Ldt, 0x30000, 0xFF));
            SetDescriptor(h, 9, SegmentDescriptor.Gate(SystemDescriptorType.CallGate32, CpuHarness.KernelCode, 0, 0));
            SetDescriptor(h, 10, SegmentDescriptor.Gate(SystemDescriptorType.TaskGate, CpuHarness.TssSelector, 0, 0));
            SetDescriptor(h, 11, SegmentDescriptor.CodeOrData(0x3, 0, 0xFFF, 3, big: false, present: false));
        });
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.True);
            Assert.That(eax, Is.EqualTo(rights));
        });
    }

    [TestCase(SystemDescriptorType.InterruptGate32, TestName = "LAR of a 32-bit interrupt gate sets ZF = 0 and leaves the destination")]
    [TestCase(SystemDescriptorType.TrapGate16, TestName = "LAR of a 16-bit trap gate sets ZF = 0 and leaves the destination")]
    [TestCase(0, TestName = "LAR of a reserved system type 0 sets ZF = 0 and leaves the destination")]
    [TestCase(0xD, TestName = "LAR of the reserved system type 0xD sets ZF = 0 and leaves the destination")]
    public void LarOfInvalidSystemType(int type)
    {
        var (eax, zf) = Kernel(Lar(Sel8), With(8, SegmentDescriptor.Gate(type, CpuHarness.KernelCode, 0, 0)));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.False);
            Assert.That(eax, Is.EqualTo(Untouched));
        });
    }

    [TestCase((ushort)0, TestName = "LAR of the null selector sets ZF = 0 without a fault")]
    [TestCase((ushort)0x100, TestName = "LAR of selector 0x100 beyond the GDT limit sets ZF = 0 without a fault")]
    [TestCase((ushort)0x0C, TestName = "LAR of an LDT selector with a null LDTR sets ZF = 0 without a fault")]
    [TestCase((ushort)0x13, TestName = "LAR at CPL 0 of selector 0x13 (RPL 3 > DPL 0) sets ZF = 0")]
    public void LarInvisible(ushort selector)
    {
        var (eax, zf) = Kernel(Lar(selector));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.False);
            Assert.That(eax, Is.EqualTo(Untouched));
        });
    }

    [TestCase(TestName = "LAR at CPL 3 of the DPL0 data segment (CPL > DPL) sets ZF = 0")]
    public void LarAtCpl3OfKernelData()
    {
        var (eax, zf) = User(Lar(CpuHarness.KernelData));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.False);
            Assert.That(eax, Is.EqualTo(Untouched));
        });
    }

    [TestCase(TestName = "LAR at CPL 3 of a conforming DPL0 code segment sets ZF = 1: conforming code is exempt from the DPL check")]
    public void LarAtCpl3OfConformingCode()
    {
        var (eax, zf) = User(Lar(Sel8 | 3), With(8, Flat(0xF, 0)));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.True);
            Assert.That(eax, Is.EqualTo(0x00C09F00u), "G, D, P, DPL 0, S, type 0xF");
        });
    }

    // ---- LSL ----

    [TestCase(CpuHarness.UserData, 0xFFFFFFFFu, TestName = "LSL of a flat segment with G = 1 gives the byte limit 0xFFFFFFFF")]
    [TestCase(CpuHarness.SmallData, 0xFFFu, TestName = "LSL of the byte-granular 4 KiB segment gives 0xFFF")]
    [TestCase(CpuHarness.TssSelector, 0x67u, TestName = "LSL of the busy TSS gives its limit 0x67")]
    public void LslLoadsLimit(ushort selector, uint limit)
    {
        var (eax, zf) = Kernel(Lsl(selector));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.True);
            Assert.That(eax, Is.EqualTo(limit));
        });
    }

    [TestCase(TestName = "LSL with a 16-bit operand keeps the low 16 bits of the limit (0xFFFF) and the upper half of EAX")]
    public void LslWithWordOperand()
    {
        var (eax, zf) = Kernel(a =>
        {
            a.mov(ecx, CpuHarness.UserData);
            a.lsl(ax, cx);
        });
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.True);
            Assert.That(eax, Is.EqualTo(0xDEADFFFFu));
        });
    }

    [TestCase(SystemDescriptorType.CallGate32, TestName = "LSL of a call gate sets ZF = 0: gates have no limit")]
    [TestCase(SystemDescriptorType.TaskGate, TestName = "LSL of a task gate sets ZF = 0")]
    public void LslOfGate(int type)
    {
        var (eax, zf) = Kernel(Lsl(Sel8), With(8, SegmentDescriptor.Gate(type, CpuHarness.KernelCode, 0, 0)));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.False);
            Assert.That(eax, Is.EqualTo(Untouched));
        });
    }

    [TestCase(TestName = "LSL at CPL 3 of the DPL0 4 KiB segment sets ZF = 0")]
    public void LslAtCpl3OfKernelSegment()
    {
        var (eax, zf) = User(Lsl(CpuHarness.SmallData));
        Assert.Multiple(() =>
        {
            Assert.That(zf, Is.False);
            Assert.That(eax, Is.EqualTo(Untouched));
        });
    }

    // ---- VERR / VERW ----

    private static bool Verify(bool write, ushort selector, Action<CpuHarness>? setup = null, bool user = false)
    {
        Action<Assembler> insn = a =>
        {
            a.mov(ecx, selector);
            if (write)
                a.verw(cx);
            else
                a.verr(cx);
        };
        return (user ? User(insn, setup) : Kernel(insn, setup)).Zf;
    }

    [TestCase(false, 0x3, true, TestName = "VERR of a read/write data segment sets ZF = 1")]
    [TestCase(false, 0x1, true, TestName = "VERR of a read-only data segment sets ZF = 1")]
    [TestCase(false, 0xB, true, TestName = "VERR of a readable code segment sets ZF = 1")]
    [TestCase(false, 0x9, false, TestName = "VERR of an execute-only code segment sets ZF = 0")]
    [TestCase(true, 0x3, true, TestName = "VERW of a read/write data segment sets ZF = 1")]
    [TestCase(true, 0x7, true, TestName = "VERW of an expand-down read/write data segment sets ZF = 1")]
    [TestCase(true, 0x1, false, TestName = "VERW of a read-only data segment sets ZF = 0")]
    [TestCase(true, 0xB, false, TestName = "VERW of a readable code segment sets ZF = 0: code is never writable")]
    public void VerifyByType(bool write, int type, bool expected) =>
        Assert.That(Verify(write, Sel8, With(8, Flat(type, 0))), Is.EqualTo(expected));

    [TestCase(false, TestName = "VERR of a not-present readable segment sets ZF = 1: presence is not checked")]
    [TestCase(true, TestName = "VERW of a not-present writable segment sets ZF = 1: presence is not checked")]
    public void VerifyIgnoresPresence(bool write) =>
        Assert.That(Verify(write, Sel8, With(8, Flat(0x3, 0, present: false))), Is.True);

    [TestCase(false, TestName = "VERR of the TSS (a system descriptor) sets ZF = 0")]
    [TestCase(true, TestName = "VERW of the TSS (a system descriptor) sets ZF = 0")]
    public void VerifySystemDescriptor(bool write) => Assert.That(Verify(write, CpuHarness.TssSelector), Is.False);

    [TestCase(false, TestName = "VERR of the null selector sets ZF = 0 without a fault")]
    [TestCase(true, TestName = "VERW of selector 0x100 beyond the GDT limit sets ZF = 0 without a fault")]
    public void VerifyBadSelector(bool write) => Assert.That(Verify(write, write ? (ushort)0x100 : (ushort)0), Is.False);

    [TestCase(false, TestName = "VERR at CPL 3 of the DPL0 data segment sets ZF = 0 (CPL > DPL)")]
    [TestCase(true, TestName = "VERW at CPL 3 of the DPL0 data segment sets ZF = 0 (CPL > DPL)")]
    public void VerifyAtCpl3OfKernelData(bool write) => Assert.That(Verify(write, CpuHarness.KernelData, user: true), Is.False);

    [TestCase(TestName = "VERW at CPL 0 of selector 0x23 naming the DPL3 data segment sets ZF = 1")]
    public void VerwOfUserDataAtCpl0() => Assert.That(Verify(true, CpuHarness.UserData), Is.True);

    [TestCase(TestName = "VERR at CPL 0 with RPL 3 of a DPL0 data segment sets ZF = 0 (RPL > DPL)")]
    public void VerrRplAboveDpl() => Assert.That(Verify(false, CpuHarness.KernelData | 3), Is.False);

    [TestCase(TestName = "VERR at CPL 3 of a conforming readable DPL0 code segment sets ZF = 1")]
    public void VerrConformingAtCpl3() => Assert.That(Verify(false, Sel8 | 3, With(8, Flat(0xF, 0)), user: true), Is.True);

    // ---- ARPL ----

    [TestCase(0x10u, 0x23u, 0x13u, true, TestName = "ARPL with destination RPL 0 < source RPL 3 raises the RPL to 3, ZF = 1")]
    [TestCase(0x13u, 0x21u, 0x13u, false, TestName = "ARPL with destination RPL 3 >= source RPL 1 leaves it, ZF = 0")]
    [TestCase(0x12u, 0x22u, 0x12u, false, TestName = "ARPL with equal RPLs leaves the destination, ZF = 0")]
    public void ArplRegister(uint dest, uint source, uint expected, bool zf)
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, 0xABCD0000 | dest);
            a.mov(ecx, source);
            a.arpl(ax, cx);
            a.setz(dl);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xABCD0000 | expected), "only the RPL field changes");
            Assert.That(h.Cpu.Edx & 1, Is.EqualTo(zf ? 1u : 0u), "ZF");
        });
    }

    [TestCase(TestName = "ARPL with a memory destination adjusts the stored selector's RPL")]
    public void ArplMemory()
    {
        var h = RunKernel(a =>
        {
            a.mov(__word_ptr[CpuHarness.DataBase], 0x0010);
            a.mov(ecx, 3u);
            a.arpl(__word_ptr[CpuHarness.DataBase], cx);
            a.setz(dl);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.ReadPhysical(CpuHarness.DataBase, 2), Is.EqualTo(0x13ul));
            Assert.That(h.Cpu.Edx & 1, Is.EqualTo(1u));
        });
    }

    [TestCase(TestName = "ARPL at CPL 3 works like at CPL 0: it is not privileged")]
    public void ArplAtCpl3()
    {
        var h = RunUser(a =>
        {
            a.mov(eax, 0x10u);
            a.mov(ecx, 3u);
            a.arpl(ax, cx);
            a.@int(CpuHarness.ExitVector);
        });
        Assert.That(h.Cpu.Eax, Is.EqualTo(0x13u));
    }

    // ---- Real-address mode: #UD ----

    [TestCase("arpl", TestName = "ARPL in real-address mode raises #UD")]
    [TestCase("lar", TestName = "LAR in real-address mode raises #UD")]
    [TestCase("lsl", TestName = "LSL in real-address mode raises #UD")]
    [TestCase("verr", TestName = "VERR in real-address mode raises #UD")]
    [TestCase("verw", TestName = "VERW in real-address mode raises #UD")]
    public void UndefinedInRealMode(string form)
    {
        // Clear CR0.PE and point IDTR at a real-mode IVT at 0 whose entry 6 is 0000:(the #UD HLT).
        const uint ivtPseudo = 0x1F10;
        var h = RunKernel(a =>
        {
            a.lidt(__fword_ptr[ivtPseudo]);
            a.mov(eax, cr0);
            a.and(eax, ~1);
            a.mov(cr0, eax);
            switch (form)
            {
                case "arpl": a.arpl(ax, cx); break;
                case "lar": a.lar(eax, ecx); break;
                case "lsl": a.lsl(eax, ecx); break;
                case "verr": a.verr(cx); break;
                default: a.verw(cx); break;
            }

            a.hlt();
        }, h =>
        {
            h.WriteBytes(ivtPseudo, [0xFF, 0x03, 0, 0, 0, 0]);
            h.WriteU32(4 * 6, CpuHarness.HandlerBase + (16 * 6));
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.ProtectedMode, Is.False);
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.UD), "halted in the #UD handler through IVT entry 6");
        });
    }
}
