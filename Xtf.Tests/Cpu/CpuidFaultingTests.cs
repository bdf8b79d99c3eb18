using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// CPUID faulting, the processor feature of Ivy Bridge and later Intel parts (Intel's
/// "Virtualization Technology FlexMigration" application note, document 323850; the same bits Xen's
/// probe_cpuid_faulting and set_cpuid_faulting use): MSR_PLATFORM_INFO (CEH) bit 31 reports it,
/// MSR_MISC_FEATURES_ENABLES (140H) bit 0 turns it on, and then CPUID at CPL &gt; 0 is #GP(0).
/// On bare hardware, no hypervisor.
/// </summary>
[TestFixture]
public sealed class CpuidFaultingTests
{
    private const uint PlatformInfo = 0xCE, MiscFeaturesEnables = 0x140;

    private static Action<Assembler> Wrmsr(uint msr, ulong value) => a =>
    {
        a.mov(ecx, msr);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    };

    [TestCase(TestName = "CPUID faulting: MSR_PLATFORM_INFO bit 31 reports it")]
    public void PlatformInfoReportsIt()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(ecx, PlatformInfo);
            a.rdmsr();
            a.hlt();
        });
        Assert.That(h.Vector, Is.Null);
        Assert.That(h.Cpu.Eax & (1u << 31), Is.Not.Zero);
    }

    [TestCase(PlatformInfo, 1ul << 31, TestName = "CPUID faulting: MSR_PLATFORM_INFO is read-only, WRMSR is #GP(0)")]
    [TestCase(MiscFeaturesEnables, 2ul, TestName = "CPUID faulting: a reserved bit of MSR_MISC_FEATURES_ENABLES is #GP(0)")]
    public void WritesThatFault(uint msr, ulong value)
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            Wrmsr(msr, value)(a);
            a.hlt();
        });
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
        Assert.That(h.Frame(0), Is.Zero, "error code");
    }

    [TestCase(TestName = "CPUID faulting on: CPUID at CPL 3 is #GP(0) and does not execute")]
    public void CpuidAtCpl3Faults()
    {
        var h = new CpuHarness();
        h.Run(
            a =>
            {
                Wrmsr(MiscFeaturesEnables, 1)(a);
                CpuHarness.EnterUser(a);
            },
            a =>
            {
                a.xor(eax, eax);
                a.mov(ebx, 0x5EED);
                a.cpuid();
                a.@int(CpuHarness.ExitVector);
            });
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
        Assert.That(h.Frame(0), Is.Zero, "error code");
        Assert.That(h.Frame(1), Is.EqualTo(CpuHarness.UserCodeBase + 7), "saved EIP: the CPUID (after xor, 2 bytes, and mov ebx, 5 bytes)");
        Assert.That(h.Cpu.Ebx, Is.EqualTo(0x5EEDu), "EBX unchanged");
    }

    [TestCase(TestName = "CPUID faulting on: CPUID at CPL 0 executes")]
    public void CpuidAtCpl0Executes()
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            Wrmsr(MiscFeaturesEnables, 1)(a);
            a.xor(eax, eax);
            a.cpuid();
            a.hlt();
        });
        Assert.That(h.Vector, Is.Null);
        Assert.That(h.Cpu.Ebx, Is.EqualTo(0x756E6547u), "\"Genu\" of GenuineIntel");
    }
}
