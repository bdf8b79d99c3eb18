using System.Reflection;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Robustness;

/// <summary>
/// Guest code that jumps into the runtime's gate page where no C# waits for it (here the user
/// Exec return gate, from a kernel snippet): the contract (DESIGN.md section 2) makes it a CRASH
/// with a reason; it was an InvalidOperationException out of the gate, a host exception.
/// </summary>
[TestFixture]
public sealed class GateMisuseTests
{
    public sealed class StrayGateJumpGuest : TestCase
    {
        public override void Main()
        {
            // The gate's address, as random code might find it (the runtime does not publish it).
            var gate = typeof(Xtf.Core.Guest.Runtime.GuestRuntime).GetProperty("ExecReturnUserGate", BindingFlags.NonPublic | BindingFlags.Instance)!;
            ulong address = (ulong)gate.GetValue(Runtime)!;
            Exec(a =>
            {
                a.mov(eax, (uint)address);
                a.jmp(eax);
            });
            Success();
        }
    }

    [Test]
    public void AJumpToAGateNobodyWaitsForIsACrashWithItsReason()
    {
        var o = GuestHarness.Run<StrayGateJumpGuest>(env: Environments.Hvm32);
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog + o.Diagnostic);
            Assert.That(o.Diagnostic, Is.EqualTo("the guest entered an Exec return gate outside any Exec"));
            Assert.That(o.HostException, Is.Null);
        });
    }
}
