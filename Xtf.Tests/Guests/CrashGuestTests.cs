using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// Guests that must end as CRASH (DESIGN.md section 5: no result line), each within its budget
/// and without a host exception escaping.
/// </summary>
[TestFixture]
public sealed class CrashGuestTests
{
    public sealed class PanicGuest : TestCase
    {
        public override void Main() => Panic("deliberate panic\n");
    }

    public sealed class UnhandledExceptionGuest : TestCase
    {
        public override void Main() => ExecDetailed(a => a.ud2(), ExecFaults.Unhandled);
    }

    public sealed class LoopForeverGuest : TestCase
    {
        public override void Main() => Exec(a =>
        {
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });
    }

    /// <summary>An IDT limit of 0: #UD cannot be delivered (#GP), nor #GP (#DF), nor #DF: shutdown.</summary>
    public sealed class TripleFaultGuest : TestCase
    {
        public override void Main() => Exec(a =>
        {
            a.push(0);
            a.push(0);
            a.lidt(__[esp + 2]);
            a.ud2();
        });
    }

    public sealed class HostExceptionGuest : TestCase
    {
        public override void Main() => throw new InvalidOperationException("bug in test code");
    }

    public sealed class SilentGuest : TestCase
    {
        public override void Main()
        {
        }
    }

    [Test]
    public void PanicEndsAsCrashWithXtfPanicBanner()
    {
        var o = GuestHarness.Run<PanicGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(TestResults.ExitCode(o.Result), Is.EqualTo(6));
            Assert.That(o.Lines, Does.Contain("PANIC: deliberate panic"));
            Assert.That(o.Lines[^1], Is.EqualTo("******************************"));
            Assert.That(o.Diagnostic, Does.Contain("crash"));
        });
    }

    [Test]
    public void UnhandledExceptionReachesPanicWithXtfMessage()
    {
        var o = GuestHarness.Run<UnhandledExceptionGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Lines, Has.Some.Match(@"^PANIC: Unhandled exception at 0010:[0-9a-f]{8}$"));
            Assert.That(o.Lines, Does.Contain("Vec 6 #UD"));
        });
    }

    [Test]
    public void InfiniteLoopEndsByItsBudget()
    {
        var o = GuestHarness.Run<LoopForeverGuest>(budget: 2_000_000);
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Does.Contain("budget"));
            // Faults (boot's probes) and string iterations take budget without retiring.
            Assert.That(o.Instructions, Is.InRange(1_990_000, 2_000_000));
        });
    }

    [Test]
    public void TripleFaultEndsAsCrash()
    {
        var o = GuestHarness.Run<TripleFaultGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Does.Contain("triple fault"));
        });
    }

    [Test]
    public void HostExceptionInTestCodeEndsAsCrash()
    {
        var o = GuestHarness.Run<HostExceptionGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Does.Contain("bug in test code"));
        });
    }

    [Test]
    public void NoStatusReportedIsError()
    {
        var o = GuestHarness.Run<SilentGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Error));
            Assert.That(o.Lines, Does.Contain("Test did not report a status"));
            Assert.That(o.Lines[^1], Is.EqualTo("Test result: ERROR"));
        });
    }
}
