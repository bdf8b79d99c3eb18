using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// hvm64 really runs its test in 64-bit mode with 4-level paging: each guest checks one
/// architectural consequence from inside the guest and reports FAILURE with the reason if it does
/// not hold.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class Hvm64GuestTests
{
    /// <summary>EFER.LMA (read by RDMSR) is set, with LME, CR4.PAE and CR0.PG.</summary>
    public sealed class ModeRegistersGuest : TestCase
    {
        public override void Main()
        {
            var efer = ExecDetailed(a =>
            {
                a.mov(ecx, X86Cpu.MsrEfer);
                a.rdmsr();
            });
            if (!efer.Fault.IsNone || (efer.Eax & (Efer.LME | Efer.LMA)) != (Efer.LME | Efer.LMA))
                Failure($"Fail: RDMSR EFER: {efer.Fault}, EFER {efer.Eax:x8}, expected LME and LMA set\n");
            var cr = ExecDetailed(a =>
            {
                a.mov(rax, cr0);
                a.mov(rbx, cr4);
            });
            if ((cr.Eax & Cr0.PG) == 0 || (cr.Ebx & Cr4.PAE) == 0)
                Failure($"Fail: CR0 {cr.Eax:x8} CR4 {cr.Ebx:x8}, expected PG and PAE\n");
            Success();
        }
    }

    /// <summary>
    /// MOV RAX, imm64 (REX.W B8) loads all 64 bits. Only in 64-bit mode (CS.L = 1) is 0x48 a REX
    /// prefix (SDM vol. 2, 2.2.1); in 32-bit or compatibility mode it is DEC EAX and the
    /// upper half of RAX cannot become 0x01234567.
    /// </summary>
    public sealed class SixtyFourBitCodeGuest : TestCase
    {
        public override void Main()
        {
            var r = ExecDetailed(a => a.mov(rax, 0x0123456789ABCDEFul));
            if (!r.Fault.IsNone || r.Rax != 0x0123456789ABCDEFul)
                Failure($"Fail: mov rax, imm64: {r.Fault}, RAX {r.Rax:x16}\n");
            Success();
        }
    }

    /// <summary>
    /// The 4-level map: NULL is not present (#PF, error code 0: not present, read, supervisor;
    /// SDM vol. 3, 4.7); 4 GiB, a canonical address only 64-bit linear addresses reach, has no
    /// PDPTE (PDPT entry 4) so is #PF with error code 0 too; a non-canonical address
    /// (bit 47 clear, bit 48 set) is #GP(0) before any walk (SDM vol. 3, 3.3.7.1 and 6.15).
    /// </summary>
    public sealed class FourLevelPagingGuest : TestCase
    {
        public override void Main()
        {
            Check("read of NULL", 0, ExInfo.Fault(X86Vector.PF, 0));
            Check("read of 4 GiB", 0x1_0000_0000ul, ExInfo.Fault(X86Vector.PF, 0));
            Check("read of the non-canonical 2^48", 0x1_0000_0000_0000ul, ExInfo.Fault(X86Vector.GP, 0));
            Success();
        }

        private void Check(string what, ulong address, ExInfo expected)
        {
            var got = Exec(a =>
            {
                a.mov(rbx, address);
                a.mov(eax, __dword_ptr[rbx]);
            });
            if (got != expected)
                Failure($"Fail: {what}: expected {expected}, got {got}\n");
        }
    }

    /// <summary>
    /// #DF in hvm64 arrives through a 64-bit interrupt gate with IST 1 (XTF's pack_gate(..., 1)):
    /// the CPU switches to IST1 whatever the CPL (SDM vol. 3, 6.14.5), so the saved cpu_regs (15
    /// GPRs, the error-code slot and the 5-slot IA-32e frame: 21 quadwords) end at the IST1 top.
    /// The #GP gate is made not present, so MOV DS of a selector beyond the GDT limit raises #GP,
    /// whose delivery raises #NP: a contributory pair, #DF (SDM vol. 3, table 6-5).
    /// </summary>
    public sealed class DoubleFaultGuest : TestCase
    {
        public override void Main() => ExecDetailed(
            a =>
            {
                a.and(__byte_ptr[(uint)HvmLayout.Idt + (13 * 16) + 5], 0x7F);
                a.mov(ax, 0x100);
                a.mov(ds, ax);
            },
            ExecFaults.Unhandled);

        public override bool UnhandledException(ExceptionFrame regs)
        {
            ulong frame = Runtime.Cpu[X86Cpu.RDI];
            const ulong expected = HvmImageBuilder.DoubleFaultStackTop - (21 * 8);
            Printk(frame == expected ? "cpu_regs on IST1\n" : $"Fail: cpu_regs at {frame:x16}, expected {expected:x16}\n");
            return false;
        }
    }

    /// <summary>
    /// The 64-bit hypercall ABI: arguments in RDI, RSI (XTF's hypercall-x86_64.h), whole; the
    /// result in RAX. XENVER_version returns (4 &lt;&lt; 16) | 19; XENVER_extraversion to the
    /// scratch buffer's address plus 4 GiB is -EFAULT (-14) since nothing maps above 4 GiB,
    /// where a pointer cut to 32 bits would have reached the (mapped) buffer and returned 0.
    /// </summary>
    public sealed class HypercallAbiGuest : TestCase
    {
        public override void Main()
        {
            long version = Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Version);
            if (version != 0x40013)
                Failure($"Fail: XENVER_version returned {version:x}, expected 40013\n");
            long above = Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Extraversion, HvmLayout.Scratch + 0x1_0000_0000ul);
            if (above != -14)
                Failure($"Fail: XENVER_extraversion above 4 GiB returned {above}, expected -14 (-EFAULT)\n");
            long below = Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Extraversion, HvmLayout.Scratch);
            if (below != 0)
                Failure($"Fail: XENVER_extraversion to the scratch buffer returned {below}, expected 0\n");
            Success();
        }
    }

    [Test]
    public void HypercallArgumentsAndResultAre64Bit() => AssertSucceeds(GuestHarness.Run<HypercallAbiGuest>(env: Environments.Hvm64));

    [Test]
    public void EferLmaAndLmeAreSetWithPaeAndPaging() => AssertSucceeds(GuestHarness.Run<ModeRegistersGuest>(env: Environments.Hvm64));

    [Test]
    public void RexWMovLoadsAll64BitsSoCsLIsSet() => AssertSucceeds(GuestHarness.Run<SixtyFourBitCodeGuest>(env: Environments.Hvm64));

    [Test]
    public void NullAndFourGibAreNotPresentAndNonCanonicalIsGp() => AssertSucceeds(GuestHarness.Run<FourLevelPagingGuest>(env: Environments.Hvm64));

    [Test]
    public void DoubleFaultRunsOnIst1AndReachesPanic()
    {
        var o = GuestHarness.Run<DoubleFaultGuest>(env: Environments.Hvm64);
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Lines, Does.Contain("cpu_regs on IST1"), o.ConsoleLog);

            // XTF's panic prints %04x:%p; %p is 16 hex digits on x86-64.
            Assert.That(o.Lines, Has.Some.Match(@"^PANIC: Unhandled exception at 0008:[0-9a-f]{16}$"));
            Assert.That(o.Lines, Has.Some.StartsWith("Vec 8 #DF[0000]"));
        });
    }

    private static void AssertSucceeds(InstanceOutcome o)
    {
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), $"{o.Diagnostic}; console:\n{o.ConsoleLog}");
        Assert.That(o.Lines, Does.Contain("Environment: HVM 64bit (Long mode 4 levels)"));
    }
}
