using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Helpers for tests that need more descriptors than <see cref="CpuHarness"/>'s eight: the GDT is
/// extended to 32 entries (selectors up to 0xF8) by an LGDT the kernel code runs first; entries
/// 8 onwards are the test's. Faults are asserted as the harness's HLT handlers leave them.
/// </summary>
internal static class DescriptorKit
{
    /// <summary>Where the LGDT pseudo-descriptor lives (between the GDT and the IDT).</summary>
    public const uint GdtPseudoDescriptor = 0x1F00;
    public const ushort LargeGdtLimit = (32 * 8) - 1;

    /// <summary>Selectors of the test's entries 8-11.</summary>
    public const ushort Sel8 = 8 << 3, Sel9 = 9 << 3, Sel10 = 10 << 3, Sel11 = 11 << 3;

    /// <summary>Code at 0x12000 (and 16-bit-reachable code at 0xE000) for far-transfer targets.</summary>
    public const uint TargetCode = 0x12000, TargetCode16 = 0xE000;

    public static void SetDescriptor(CpuHarness h, int index, SegmentDescriptor d) =>
        h.WriteBytes(CpuHarness.GdtBase + (8u * (uint)index), BitConverter.GetBytes(d.Raw));

    /// <summary>A flat 32-bit code or data descriptor with a given type and DPL (accessed bit as given in <paramref name="type"/>).</summary>
    public static SegmentDescriptor Flat(int type, int dpl, bool present = true) =>
        SegmentDescriptor.CodeOrData(type, 0, 0xFFFFF, dpl, big: true, granular: true, present: present);

    private static void PrepareGdt(CpuHarness h)
    {
        var pseudo = new byte[6];
        BitConverter.TryWriteBytes(pseudo.AsSpan(0), LargeGdtLimit);
        BitConverter.TryWriteBytes(pseudo.AsSpan(2), CpuHarness.GdtBase);
        h.WriteBytes(GdtPseudoDescriptor, pseudo);
    }

    /// <summary>Runs kernel code at CPL 0 with the large GDT; expects the CPU to halt.</summary>
    public static CpuHarness RunKernel(Action<Assembler> kernel, Action<CpuHarness>? setup = null, uint eflags = RFlags.Reserved1)
    {
        var h = new CpuHarness();
        PrepareGdt(h);
        setup?.Invoke(h);
        var stop = h.Run(a =>
        {
            a.lgdt(__fword_ptr[GdtPseudoDescriptor]);
            kernel(a);
        }, eflags: eflags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted), "the run ends in a HLT");
        return h;
    }

    /// <summary>
    /// Enters <paramref name="user"/> at CPL 3 (IRETD, DS = ES = 0x23) with the large GDT; expects a
    /// halt. <paramref name="kernelFlags"/> is EFLAGS before the IRETD (which keeps VM, VIF and VIP).
    /// </summary>
    public static CpuHarness RunUser(Action<Assembler> user, Action<CpuHarness>? setup = null, uint userFlags = RFlags.Reserved1,
        uint kernelFlags = RFlags.Reserved1)
    {
        var h = new CpuHarness();
        PrepareGdt(h);
        setup?.Invoke(h);
        var stop = h.Run(a =>
        {
            a.lgdt(__fword_ptr[GdtPseudoDescriptor]);
            CpuHarness.EnterUser(a, userFlags);
        }, user, kernelFlags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted), "the run ends in a HLT");
        return h;
    }

    /// <summary>A fault taken at CPL 3: delivered on the ring-0 stack from the TSS with the full frame.</summary>
    public static void AssertUserFault(CpuHarness h, X86Vector vector, uint errorCode, uint eip = CpuHarness.UserCodeBase)
    {
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)vector), "vector");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.Ring0StackTop - 24), "error code, EIP, CS, EFLAGS, ESP, SS on the TSS stack");
            Assert.That(h.Frame(0), Is.EqualTo(errorCode), "error code");
            Assert.That(h.Frame(1), Is.EqualTo(eip), "saved EIP = the faulting instruction");
            Assert.That(h.Frame(2), Is.EqualTo((uint)CpuHarness.UserCode), "saved CS: the fault left CPL 3 unchanged");
            Assert.That(h.Frame(4), Is.EqualTo(CpuHarness.UserStackTop), "saved ESP unchanged");
        });
    }

    /// <summary>A fault taken at CPL 0 on the kernel stack: error code, EIP, CS, EFLAGS.</summary>
    public static void AssertKernelFault(CpuHarness h, X86Vector vector, uint errorCode, uint? eip = null)
    {
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)vector), "vector");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop - 16), "error code, EIP, CS, EFLAGS; ESP unchanged before the fault");
            Assert.That(h.Frame(0), Is.EqualTo(errorCode), "error code");
            Assert.That(h.Frame(2), Is.EqualTo((uint)CpuHarness.KernelCode), "saved CS");
            if (eip is { } e)
                Assert.That(h.Frame(1), Is.EqualTo(e), "saved EIP = the faulting instruction");
        });
    }

    public static void CallFar(Assembler a, ushort selector, uint offset) =>
        a.AddInstruction(Instruction.CreateBranch(Code.Call_ptr1632, selector, offset));

    public static void JmpFar(Assembler a, ushort selector, uint offset) =>
        a.AddInstruction(Instruction.CreateBranch(Code.Jmp_ptr1632, selector, offset));
}
