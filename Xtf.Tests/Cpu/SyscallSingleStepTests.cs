using NUnit.Framework;
using Xtf.Core.Cpu;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// The single-step trap after SYSCALL follows the TF that SYSCALL leaves, after IA32_FMASK, not
/// the TF it started with (undocumented in the SDM; Xen's XSA-204 advisory: "SYSCALL ... behave[s]
/// differently because the typical behaviour allows userspace to escalate its privilege"; XTF's
/// tests/xsa-204 expects no #DB once FMASK masks TF).
/// </summary>
public sealed class SyscallSingleStepTests
{
    private const ulong Star = (0x18ul << 48) | (0x08ul << 32);

    private static LongModeHarness Run(uint fmask)
    {
        var h = new LongModeHarness();
        h.Load(TargetCode, 64, a => a.hlt());

        // IRETQ sets TF, so the first user instruction (SYSCALL) starts with TF = 1.
        h.RunToHalt(a =>
        {
            WriteMsr(a, X86Cpu.MsrStar, Star);
            WriteMsr(a, X86Cpu.MsrLstar, TargetCode);
            WriteMsr(a, X86Cpu.MsrFmask, fmask);
            EnterUser(a, rflags: RFlags.Reserved1 | RFlags.TF);
        }, a => a.syscall());
        return h;
    }

    [TestCase(TestName = "SYSCALL single-step: with TF masked by IA32_FMASK no #DB follows, the kernel's first instruction runs (XSA-204)")]
    public void MaskedTfNoTrap()
    {
        var h = Run(RFlags.TF);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "no exception");
            Assert.That(h.Cpu.Rip, Is.EqualTo(TargetCode + 1), "halted in the HLT at IA32_LSTAR");
            Assert.That(h.Cpu[11] & RFlags.TF, Is.EqualTo(RFlags.TF), "R11 keeps the user's TF");
        });
    }

    [TestCase(TestName = "SYSCALL single-step: with TF left set by IA32_FMASK, #DB (DR6.BS) is a trap at IA32_LSTAR, at CPL 0")]
    public void UnmaskedTfTraps()
    {
        var h = Run(0);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DB));
            Assert.That(h.Frame(0), Is.EqualTo((ulong)TargetCode), "saved RIP = IA32_LSTAR");
            Assert.That(h.Frame(1), Is.EqualTo((ulong)Kernel64), "saved CS = STAR[47:32], CPL 0");
            Assert.That(h.Cpu.Dr[6] & DebugRegisters.BS, Is.EqualTo(DebugRegisters.BS));
        });
    }
}
