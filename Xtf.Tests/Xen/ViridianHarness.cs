using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Viridian;
using Xtf.Tests.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen;

/// <summary>
/// An HVM domain on <see cref="CpuHarness"/>'s 1 MiB machine with HVM_PARAM_VIRIDIAN set as a
/// toolstack sets it; CPUID, RDMSR and WRMSR run as instructions at CPL 0, so a refused MSR is the
/// CPU's #GP(0) through the guest's IDT.
/// </summary>
internal sealed class ViridianHarness
{
    public const int GP = 13;

    public ViridianHarness(ViridianFeatures mask, bool hap = true)
    {
        Domain = new HvmDomain(H.Vm, hap: hap);
        if (mask != ViridianFeatures.None)
            Assert.That(Domain.SetViridian(mask), Is.Zero, "xc_hvm_param_set(HVM_PARAM_VIRIDIAN)");
    }

    public CpuHarness H { get; } = new();

    public HvmDomain Domain { get; }

    /// <summary>CPUID <paramref name="leaf"/> (subleaf 0).</summary>
    public CpuidResult Cpuid(uint leaf)
    {
        H.Run(a =>
        {
            a.mov(eax, leaf);
            a.xor(ecx, ecx);
            a.cpuid();
            a.hlt();
        });
        Assert.That(H.Vector, Is.Null, $"CPUID 0x{leaf:x} faulted");
        return new CpuidResult(H.Cpu.Eax, H.Cpu.Ebx, H.Cpu.Ecx, H.Cpu.Edx);
    }

    /// <summary>WRMSR; the vector it faulted with, or null.</summary>
    public int? Wrmsr(uint msr, ulong value)
    {
        H.Run(a =>
        {
            a.mov(ecx, msr);
            a.mov(eax, (uint)value);
            a.mov(edx, (uint)(value >> 32));
            a.wrmsr();
            a.hlt();
        });
        return H.Vector;
    }

    /// <summary>RDMSR; the value read, or the vector it faulted with.</summary>
    public (ulong Value, int? Fault) Rdmsr(uint msr)
    {
        H.Run(a =>
        {
            a.mov(ecx, msr);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.rdmsr();
            a.hlt();
        });
        return (((ulong)H.Cpu.Edx << 32) | H.Cpu.Eax, H.Vector);
    }

    /// <summary>
    /// <c>call</c> to <paramref name="page"/> (a hypercall page) with the 32-bit registers given;
    /// EDX:EAX afterwards, or the vector the call faulted with.
    /// </summary>
    public (ulong EdxEax, int? Fault) Call(ulong page, uint eaxIn, uint edxIn = 0, uint ebxIn = 0, uint ecxIn = 0)
    {
        H.Run(a =>
        {
            a.mov(eax, eaxIn);
            a.mov(edx, edxIn);
            a.mov(ebx, ebxIn);
            a.mov(ecx, ecxIn);
            a.mov(esi, 0u);
            a.mov(edi, 0u);
            a.call(page);
            a.hlt();
        });
        return (((ulong)H.Cpu.Edx << 32) | H.Cpu.Eax, H.Vector);
    }

    /// <summary>Bytes of guest physical memory.</summary>
    public byte[] Read(ulong address, int length)
    {
        var b = new byte[length];
        H.Vm.Memory.Read(address, b);
        return b;
    }
}
