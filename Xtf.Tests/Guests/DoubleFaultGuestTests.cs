using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>hvm32's #DF arrives through a task gate to the #DF TSS (GDT slot 8), as in XTF on 32-bit.</summary>
[TestFixture]
public sealed class DoubleFaultGuestTests
{
    /// <summary>
    /// The #GP gate is made not present, then MOV DS with a selector beyond the GDT limit raises
    /// #GP; delivering it raises #NP, a contributory pair, so #DF (SDM vol. 3, table 6-5).
    /// </summary>
    public sealed class DoubleFaultGuest : TestCase
    {
        public override void Main() => ExecDetailed(
            a =>
            {
                a.and(__byte_ptr[(uint)HvmLayout.Idt + (13 * 8) + 5], 0x7F);
                a.mov(ax, 0x100);
                a.mov(ds, ax);
            },
            ExecFaults.Unhandled);
    }

    [Test]
    public void DoubleFaultReachesPanicThroughTheTaskGate()
    {
        var o = GuestHarness.Run<DoubleFaultGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Lines, Has.Some.Match(@"^PANIC: Unhandled exception at 0010:[0-9a-f]{8}$"));
            Assert.That(o.Lines, Has.Some.StartsWith("Vec 8 #DF"));
        });
    }
}
