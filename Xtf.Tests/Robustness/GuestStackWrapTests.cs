using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Robustness;

/// <summary>
/// Issue 16 item 4: a guest whose stack is near 0 takes an exception. In 32-bit mode the CPU
/// pushes the frame with ESP wrapping modulo 2^32 (SDM vol. 1, 3.3.6: the effective address is
/// truncated to the address size), so part of the frame lands just below 4 GiB. The runtime's
/// C# reads of the frame (do_exception's struct cpu_regs) must wrap the same way, and whatever
/// faults there is a panic of the guest (a CRASH with a reason), never a host exception.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class GuestStackWrapTests
{
    /// <summary>The reproducer: <c>mov esp, 0x40; ud2</c>.</summary>
    public sealed class LowStackUd2Guest : TestCase
    {
        public override void Main()
        {
            Exec(a =>
            {
                a.mov(esp, 0x40);
                a.ud2();
            });
            Success();
        }
    }

    /// <summary>A C# load through DS from an unmapped page (page 0 is never mapped, DESIGN.md section 4).</summary>
    public sealed class UnmappedHostReadGuest : TestCase
    {
        public override void Main()
        {
            _ = ReadKernelMemory(0x10, 4);
            Success();
        }
    }

    /// <summary>Within 5e6 instructions (the harness budget) and without a host exception.</summary>
    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pae)]
    public void ExceptionWithStackNearZeroEndsAsCrashWithAReason(Environments env)
    {
        var o = GuestHarness.Run<LowStackUd2Guest>(env: env);
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Does.Not.Contain("host exception"));
            Assert.That(o.Diagnostic, Does.Contain("panic"));
            Assert.That(o.Lines, Has.Some.StartsWith("PANIC: "));
        });
    }

    /// <summary>The runtime's own C# access faulting (#PF on page 0) is a guest panic naming the gate and the fault.</summary>
    [Test]
    public void FaultingHostAccessIsAGuestPanic()
    {
        var o = GuestHarness.Run<UnmappedHostReadGuest>(env: Environments.Hvm32Pae);
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Does.Not.Contain("host exception"));
            Assert.That(o.Lines, Does.Contain("PANIC: xtf_main: guest memory access faulted: #PF[0000] %cr2 00000010"));
        });
    }
}
