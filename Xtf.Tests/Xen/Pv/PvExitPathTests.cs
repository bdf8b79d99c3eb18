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

    /// <summary>
    /// A pv64 hypercall by SYSCALL from a code segment of the guest's own returns on
    /// FLAT_RING3_CS64: SYSCALL records no CS, Xen's lstar_enter frame has FLAT_KERNEL_CS64
    /// (0xe033, xen/arch/x86/x86_64/entry.S), and SYSRET loads it.
    /// </summary>
    private sealed class SyscallFromOwnCs : TestCase
    {
        public override void Main()
        {
            SetGdtEntry(GdteAvail0, Xtf.Core.Cpu.Segmentation.SegmentDescriptor.Code64(3));
            ushort own = GdtSelector(GdteAvail0, 3);
            var r = Runtime.Exec(a =>
            {
                var resume = a.CreateLabel();
                a.push(own);
                a.lea(rax, __qword_ptr[resume]);
                a.push(rax);
                a.AddInstruction(Iced.Intel.Instruction.Create(Iced.Intel.Code.Retfq));
                a.Label(ref resume);
                a.mov(eax, 17u); // __HYPERVISOR_xen_version
                a.xor(edi, edi); // XENVER_version
                a.xor(esi, esi);
                a.syscall();
                a.mov(edx, cs);
            });
            Printk($"own cs {own:x4}, after the hypercall cs {r.Edx & 0xFFFF:x4}, rc {(r.Eax == 0 ? "0" : "nonzero")}\n");
            Success();
        }
    }

    [Test]
    public void SyscallHypercallReturnsOnFlatRing3Cs64()
    {
        var o = GuestHarness.Run<SyscallFromOwnCs>(env: Environments.Pv64);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Lines.Single(l => l.StartsWith("own cs", StringComparison.Ordinal)), Does.Contain("after the hypercall cs e033"));
    }
}
