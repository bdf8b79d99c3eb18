using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// Xen's exit path to a PV guest (restore_all_guest's IRETQ) runs with Xen's own RFLAGS, not the
/// guest's: NT is clear there whatever the guest had (hardware event delivery clears it,
/// XEN_SYSCALL_MASK masks it for SYSCALL, sysenter_entry clears it for SYSENTER, the XSA-339 fix
/// in xen/arch/x86/x86_64/entry.S), so an IRET to the guest is never a task return. The guest's
/// own NT is in the frame it returns to.
/// </summary>
public sealed class PvExitPathTests
{
    private sealed class NtAcrossBounce : TestCase
    {
        private const uint Nt = 1u << 14;

        public override void Main()
        {
            // INT3 with NT set: #BP bounces to the guest's handler (DPL 3 gate). The handler sees
            // the guest's NT in the saved flags, clears it there and resumes after the body.
            string seen = "nothing";
            Runtime.Exec(a =>
            {
                if (a.Bitness == 64)
                {
                    a.pushfq();
                    a.or(__dword_ptr[rsp], Nt);
                    a.popfq();
                }
                else
                {
                    a.pushfd();
                    a.or(__dword_ptr[esp], Nt);
                    a.popfd();
                }

                a.int3();
            }, handler: (regs, entry) =>
            {
                seen = $"vector {regs.Vector}, saved NT {(regs.Eflags & Nt) != 0}";
                regs.Eflags &= ~Nt;
                regs.Rip = entry.Fixup;
                return true;
            });
            Printk($"int3 with NT: {seen}\n");
            Success();
        }
    }

    [TestCase(Environments.Pv64)]
    [TestCase(Environments.Pv32Pae)]
    public void BounceWithGuestNtSetDoesNotCrashTheDomain(Environments env)
    {
        var o = GuestHarness.Run<NtAcrossBounce>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Lines, Does.Contain("int3 with NT: vector 3, saved NT True"));
    }
}
