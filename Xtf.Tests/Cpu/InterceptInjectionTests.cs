using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// A hypervisor completing an intercepted instruction (the #UD intercept) and injecting an event at
/// VM entry (SDM vol. 3, 27.6; APM vol. 2, 15.20): the intercepted instruction retires without the
/// processor's #UD or single-step trap; an injected exception is delivered as the processor would
/// deliver it (EXT set, RF set in the image of a fault, CR2 for #PF); an injected software interrupt
/// makes no gate-DPL check and has EXT clear.
/// </summary>
[TestFixture]
public sealed class InterceptInjectionTests
{
    private sealed class UdIntercept(Action<X86Cpu> onUd) : ICpuIntercepts
    {
        public CpuidResult Cpuid(X86Cpu cpu, uint leaf, uint subleaf) => CpuidLeaves.Native(leaf, subleaf);

        public bool TryReadMsr(X86Cpu cpu, uint msr, out ulong value)
        {
            value = 0;
            return false;
        }

        public bool TryWriteMsr(X86Cpu cpu, uint msr, ulong value) => false;

        public bool Vmcall(X86Cpu cpu) => false;

        public bool InvalidOpcode(X86Cpu cpu)
        {
            onUd(cpu);
            return true;
        }
    }

    /// <summary>Runs UD2 (then HLT) at CPL 3 with an intercept that does <paramref name="onUd"/>.</summary>
    private static CpuHarness RunUserUd2(Action<X86Cpu> onUd, Action<CpuHarness>? setup = null, uint userEflags = RFlags.Reserved1)
    {
        var h = new CpuHarness();
        setup?.Invoke(h);
        h.Cpu.Intercepts = new UdIntercept(onUd);
        h.Run(a => CpuHarness.EnterUser(a, userEflags), user: a =>
        {
            a.ud2();
            a.hlt();
        });
        return h;
    }

    private const uint Ud2At = CpuHarness.UserCodeBase, AfterUd2 = CpuHarness.UserCodeBase + 2;

    [TestCase(TestName = "An intercept that completes UD2 retires it: no #UD, execution goes on where the hypervisor left RIP")]
    public void CompletedInterceptRetires()
    {
        long retiredBefore = 0;
        var h = RunUserUd2(cpu =>
        {
            retiredBefore = cpu.Retired;
            cpu.Rip += 2;
        });

        // HLT at CPL 3 is #GP(0): the run ends in the #GP handler, with the frame at the HLT.
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(1), Is.EqualTo(AfterUd2), "the instruction after UD2 ran next");
            Assert.That(h.Cpu.Retired, Is.GreaterThan(retiredBefore), "UD2 retired");
        });
    }

    [TestCase(TestName = "No single-step trap of the processor after an intercepted instruction: TF set at CPL 3, the hypervisor injects nothing")]
    public void NoProcessorSingleStepAfterTheExit()
    {
        var h = RunUserUd2(cpu => cpu.Rip += 2, userEflags: RFlags.Reserved1 | RFlags.TF);

        // TF was set by IRET, so UD2 is the first instruction that starts with TF set: natively it
        // would trap after it. Here the next event is the #GP of HLT.
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
        Assert.That(h.Frame(1), Is.EqualTo(AfterUd2));
    }

    [TestCase(TestName = "Injected software interrupt through a DPL 0 gate at CPL 3: delivered (no DPL check), saved EIP as given")]
    public void InjectedSoftwareInterruptSkipsTheDplCheck()
    {
        var h = RunUserUd2(
            cpu => cpu.InjectEvent(3, null, EventKind.InjectedSoftwareInterrupt, AfterUd2),
            setup: h => h.SetGate(3, SystemDescriptorType.InterruptGate32, dpl: 0));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(3));
            Assert.That(h.Frame(0), Is.EqualTo(AfterUd2), "saved EIP");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.UserCode), "saved CS: from CPL 3");
        });
    }

    [TestCase(TestName = "Injected software interrupt through an absent gate: #NP with the IDT error code, EXT clear, saved EIP at the instruction")]
    public void InjectedSoftwareInterruptAbsentGateIsNpWithoutExt()
    {
        var h = RunUserUd2(
            cpu => cpu.InjectEvent(3, null, EventKind.InjectedSoftwareInterrupt, AfterUd2),
            setup: h => h.SetGate(3, SystemDescriptorType.InterruptGate32, dpl: 3, present: false));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.NP));
            Assert.That(h.Frame(0), Is.EqualTo((3u << 3) | 2), "IDT, EXT clear");
            Assert.That(h.Frame(1), Is.EqualTo(Ud2At), "a fault in delivery saves the instruction");
        });
    }

    [TestCase(TestName = "Injected exception through an absent gate: #NP with EXT set (SDM vol. 3, 6.13)")]
    public void InjectedExceptionAbsentGateHasExt()
    {
        var h = RunUserUd2(
            cpu => cpu.InjectEvent((int)X86Vector.BP, null, EventKind.Exception, AfterUd2),
            setup: h => h.SetGate(3, SystemDescriptorType.InterruptGate32, dpl: 3, present: false));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.NP));
            Assert.That(h.Frame(0), Is.EqualTo((3u << 3) | 2 | 1));
        });
    }

    [TestCase(TestName = "Injected #PF: CR2 loaded, error code pushed, saved EIP as given, RF set in the image of a fault")]
    public void InjectedPageFault()
    {
        var h = RunUserUd2(cpu =>
        {
            cpu.Rip += 2;
            cpu.InjectEvent((int)X86Vector.PF, 0x7, EventKind.Exception, Ud2At, cr2: 0xDEAD000);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.PF));
            Assert.That(h.Cpu.Cr2, Is.EqualTo(0xDEAD000ul));
            Assert.That(h.Frame(0), Is.EqualTo(7u), "error code");
            Assert.That(h.Frame(1), Is.EqualTo(Ud2At), "saved EIP");
            Assert.That(h.Frame(3) & RFlags.RF, Is.EqualTo(RFlags.RF), "RF in the saved EFLAGS");
        });
    }
}
