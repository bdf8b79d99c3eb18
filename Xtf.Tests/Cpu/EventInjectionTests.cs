using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Events injected by a hypervisor that completed an intercepted instruction (SDM vol. 3, 27.6;
/// APM vol. 2, 15.20): an injected software interrupt is delivered as INT n would be, and a fault
/// while delivering it is the instruction's fault.
/// </summary>
[TestFixture]
public sealed class EventInjectionTests
{
    /// <summary>A hypervisor that takes UD2 as a prefix and injects INT 0x40 for the two-byte instruction after it.</summary>
    private sealed class InjectIntAfterUd2 : ICpuIntercepts
    {
        public CpuidResult Cpuid(X86Cpu cpu, uint leaf, uint subleaf) => NoIntercepts.Instance.Cpuid(cpu, leaf, subleaf);

        public bool TryReadMsr(X86Cpu cpu, uint msr, out ulong value) => NoIntercepts.Instance.TryReadMsr(cpu, msr, out value);

        public bool TryWriteMsr(X86Cpu cpu, uint msr, ulong value) => false;

        public bool Vmcall(X86Cpu cpu) => false;

        public bool InvalidOpcode(X86Cpu cpu)
        {
            cpu.Rip += 2;
            cpu.InjectEvent(0x40, null, EventKind.InjectedSoftwareInterrupt, cpu.Rip + 2);
            return true;
        }
    }

    /// <summary>
    /// IDT entry 0x40 is empty (not a gate): INT 0x40 is #GP(IDT[0x40]) = 0x202 with the frame
    /// saving the INT and EFLAGS.RF set in the image (SDM vol. 3, 18.3.1.1: every fault-class
    /// exception), whether the processor runs the INT or a hypervisor injects it.
    /// </summary>
    [TestCase(false, TestName = "INT n through a non-gate: #GP(IDT) saves the instruction with RF set")]
    [TestCase(true, TestName = "Injected INT n through a non-gate: #GP(IDT) saves the instruction with RF set, as natively")]
    public void AFaultDeliveringASoftwareInterruptSavesTheInstructionWithRf(bool injected)
    {
        var h = new CpuHarness();
        if (injected)
            h.Cpu.Intercepts = new InjectIntAfterUd2();
        var at = default(Label);
        h.Run(a =>
        {
            if (injected)
                a.ud2();
            at = a.CreateLabel();
            a.Label(ref at);
            a.@int(0x40);
            a.hlt();
        });

        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
        Assert.That(h.Frame(0), Is.EqualTo((0x40u << 3) | 2), "error code: IDT entry 0x40, EXT clear (INT n)");
        Assert.That(h.Frame(1), Is.EqualTo(h.AddressOf(at)), "the fault saves the INT");
        Assert.That(h.Frame(3) & RFlags.RF, Is.EqualTo(RFlags.RF), "RF in the EFLAGS image");
    }
}
