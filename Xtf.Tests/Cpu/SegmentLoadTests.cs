using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.DescriptorKit;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Segment-register loads (SDM vol. 2, MOV and POP pseudo-code; vol. 3, 5.4-5.6) and the hidden
/// descriptor cache's checks on every access (vol. 3, 5.3). Kernel code at CPL 0 unless stated.
/// </summary>
[TestFixture]
public sealed class SegmentLoadTests
{
    [TestCase(TestName = "MOV DS with a not-present data segment raises #NP(selector), not #GP")]
    public void NotPresentDataSegment()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(ds, ax);
        }, h => SetDescriptor(h, 8, Flat(0x3, 0, present: false)));
        AssertKernelFault(h, X86Vector.NP, Sel8);
    }

    [TestCase(TestName = "MOV SS with a not-present writable segment raises #SS(selector)")]
    public void NotPresentStackSegment()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(ss, ax);
        }, h => SetDescriptor(h, 8, Flat(0x3, 0, present: false)));
        AssertKernelFault(h, X86Vector.SS, Sel8);
    }

    [TestCase(TestName = "MOV SS with a read-only data segment raises #GP(selector)")]
    public void ReadOnlyStackSegment()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(ss, ax);
        }, h => SetDescriptor(h, 8, Flat(0x1, 0)));
        AssertKernelFault(h, X86Vector.GP, Sel8);
    }

    [TestCase(TestName = "MOV ES with an execute-only code segment raises #GP(selector)")]
    public void ExecuteOnlyCodeIntoDataRegister()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(es, ax);
        }, h => SetDescriptor(h, 8, Flat(0x9, 0)));
        AssertKernelFault(h, X86Vector.GP, Sel8);
    }

    [TestCase(TestName = "MOV FS with selector 0x13 (RPL 3 > DPL 0) at CPL 0 raises #GP(0x10)")]
    public void RplAboveDplFaults()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, 0x13u);
            a.mov(fs, ax);
        });
        AssertKernelFault(h, X86Vector.GP, 0x10);
    }

    [TestCase(TestName = "MOV DS at CPL 3 with a conforming readable DPL0 code segment is allowed (no DPL check for conforming code)")]
    public void ConformingCodeIntoDsAtCpl3()
    {
        var h = RunUser(a =>
        {
            a.mov(eax, Sel8 | 3);
            a.mov(ds, ax);
            a.mov(ebx, __dword_ptr[CpuHarness.UserCodeBase]);
            a.@int(CpuHarness.ExitVector);
        }, h => SetDescriptor(h, 8, Flat(0xF, 0)));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Segments[X86Cpu.DS].Selector, Is.EqualTo((ushort)(Sel8 | 3)));
        });
    }

    [TestCase(TestName = "A data segment load sets the descriptor's accessed bit in the GDT")]
    public void LoadSetsAccessedBit()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(gs, ax);
            a.hlt();
        }, h => SetDescriptor(h, 8, Flat(0x2, 0)));
        Assert.That(h.ReadU8(CpuHarness.GdtBase + (8 * 8) + 5), Is.EqualTo(0x93), "type 2 became 3");
    }

    [TestCase(TestName = "MOV DS with the null selector 3 succeeds; a later access through DS raises #GP(0)")]
    public void NullDataSegmentFaultsOnUse()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, 3u);
            a.mov(ds, ax);
            a.mov(ebx, __dword_ptr[CpuHarness.DataBase]);
        });
        AssertKernelFault(h, X86Vector.GP, 0);
        Assert.That(h.Cpu.Segments[X86Cpu.DS].Selector, Is.EqualTo((ushort)3), "the null selector keeps its RPL");
    }

    [TestCase(TestName = "POP ES of a system (LDT) selector raises #GP(selector) and leaves ESP unchanged")]
    public void PopSegmentFaultIsPrecise()
    {
        var h = RunKernel(a =>
        {
            a.push(Sel8);
            a.pop(es);
        }, h => SetDescriptor(h, 8, SegmentDescriptor.System(SystemDescriptorType.Ldt, 0x30000, 0xFF)));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo((uint)Sel8));
            Assert.That(h.Frame(4), Is.EqualTo((uint)Sel8), "the selector is still on the stack below the frame");
        });
    }

    [TestCase(TestName = "After LLDT, a TI = 1 selector loads from the LDT (base and limit from the LDT descriptor)")]
    public void LdtSelectorLoadsFromLdt()
    {
        // LDT at 0x30000 with entry 1 = data, base 0x20000, limit 0xFF, DPL 0; selector 0x0C.
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.lldt(ax);
            a.mov(eax, 0x0Cu);
            a.mov(fs, ax);
            a.mov(ebx, __dword_ptr.fs[0xFC]);
            a.mov(ecx, __dword_ptr.fs[0xFD]);
        }, h =>
        {
            SetDescriptor(h, 8, SegmentDescriptor.System(SystemDescriptorType.Ldt, 0x30000, 0xF));
            h.WriteBytes(0x30008, BitConverter.GetBytes(SegmentDescriptor.CodeOrData(0x3, 0x20000, 0xFF, 0).Raw));
            h.WriteU32(0x200FC, 0x600DF00D);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Ebx, Is.EqualTo(0x600DF00Du), "FS:0xFC reads linear 0x200FC");
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP), "FS:0xFD..0x100 crosses the limit 0xFF");
            Assert.That(h.Frame(0), Is.EqualTo(0u));
        });
    }

    [TestCase(TestName = "After a null LLDT a TI = 1 selector raises #GP(selector), though LDTR keeps the old LDT's base and limit")]
    public void NullLldtInvalidatesTheLdt()
    {
        // SDM: LLDT, null "marks the LDTR invalid": every LDT reference then faults. Base and limit
        // are left stale, as AMD does (Xen 04beafa8e6, XTF tests/xsa-191), not consulted.
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.lldt(ax);
            a.xor(eax, eax);
            a.lldt(ax);
            a.mov(eax, 0x0Cu);
            a.mov(fs, ax);
        }, h =>
        {
            SetDescriptor(h, 8, SegmentDescriptor.System(SystemDescriptorType.Ldt, 0x30000, 0xF));
            h.WriteBytes(0x30008, BitConverter.GetBytes(SegmentDescriptor.CodeOrData(0x3, 0x20000, 0xFF, 0).Raw));
        });
        AssertKernelFault(h, X86Vector.GP, 0x0C);
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Ldtr.Usable, Is.False);
            Assert.That(h.Cpu.Ldtr.Selector, Is.EqualTo((ushort)0));
            Assert.That(h.Cpu.Ldtr.Base, Is.EqualTo(0x30000ul), "stale base");
            Assert.That(h.Cpu.Ldtr.Limit, Is.EqualTo(0xFu), "stale limit");
        });
    }

    [TestCase(TestName = "A TI = 1 selector beyond the LDT limit raises #GP(selector with TI)")]
    public void LdtSelectorBeyondLdtLimit()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.lldt(ax);
            a.mov(eax, 0x14u); // LDT entry 2: offset 0x10 + 7 > limit 0xF
            a.mov(fs, ax);
        }, h => SetDescriptor(h, 8, SegmentDescriptor.System(SystemDescriptorType.Ldt, 0x30000, 0xF)));
        AssertKernelFault(h, X86Vector.GP, 0x14);
    }

    [TestCase(0x1000u, false, TestName = "Expand-down 16-bit segment with limit 0xFFF: a word at 0x1000 is valid (offsets limit+1..0xFFFF)")]
    [TestCase(0xFFFu, true, TestName = "Expand-down segment with limit 0xFFF: offset 0xFFF (= limit) raises #GP(0)")]
    [TestCase(0xFFFFu, true, TestName = "Expand-down segment with B = 0: a word at 0xFFFF ends beyond 0xFFFF and raises #GP(0)")]
    [TestCase(0x10000u, true, TestName = "Expand-down segment with B = 0: offset 0x10000 is beyond the 64 KiB top and raises #GP(0)")]
    public void ExpandDownSegment(uint offset, bool faults)
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(es, ax);
            a.mov(ebx, offset);
            a.mov(cx, __word_ptr.es[ebx]);
            a.hlt();
        }, h => SetDescriptor(h, 8, SegmentDescriptor.CodeOrData(0x7, 0x20000, 0xFFF, 0, big: false)));
        Assert.That(h.Vector, faults ? Is.EqualTo((int)X86Vector.GP) : Is.Null);
    }

    [TestCase(TestName = "Expand-down segment with B = 1: offset 0xFFFFFFF0 is valid")]
    public void ExpandDownBigSegment()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(es, ax);
            a.mov(ebx, 0xFFFFFFF0);
            a.mov(ecx, __dword_ptr.es[ebx]);
            a.hlt();
        }, h => SetDescriptor(h, 8, SegmentDescriptor.CodeOrData(0x7, 0x20000, 0xFFF, 0, big: true)));
        Assert.That(h.Vector, Is.Null);
    }

    [TestCase(TestName = "A write through a read-only data segment raises #GP(0); through SS a limit violation is #SS(0)")]
    public void ReadOnlyWriteFaults()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(es, ax);
            a.mov(ebx, __dword_ptr.es[0x10]);
            a.mov(__dword_ptr.es[0x10], ebx);
        }, h => SetDescriptor(h, 8, Flat(0x1, 0)));
        AssertKernelFault(h, X86Vector.GP, 0);
    }

    [TestCase(TestName = "The hidden cache keeps the old base after the GDT entry changes, until the register is reloaded")]
    public void HiddenCacheSurvivesDescriptorChange()
    {
        var h = RunKernel(a =>
        {
            a.mov(eax, Sel8);
            a.mov(fs, ax);
            // Rewrite base bits 16-23 (descriptor byte 4) of entry 8 to 3: FS still uses base 0x20000.
            a.mov(__byte_ptr[CpuHarness.GdtBase + 64 + 4], 0x03);
            a.mov(ebx, __dword_ptr.fs[0]);
            a.mov(fs, ax);
            a.mov(ecx, __dword_ptr.fs[0]);
            a.hlt();
        }, h =>
        {
            SetDescriptor(h, 8, SegmentDescriptor.CodeOrData(0x3, 0x20000, 0xFFFF, 0));
            h.WriteU32(0x20000, 0x11111111);
            h.WriteU32(0x30000, 0x33333333);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null);
            Assert.That(h.Cpu.Ebx, Is.EqualTo(0x11111111u), "cached base 0x20000");
            Assert.That(h.Cpu.Ecx, Is.EqualTo(0x33333333u), "reloaded base 0x30000");
        });
    }
}
