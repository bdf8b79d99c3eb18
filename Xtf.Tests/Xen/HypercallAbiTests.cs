using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen;

/// <summary>
/// The HVM hypervisor as a guest sees it, checked against Xen's public ABI (xen.h, sched.h,
/// version.h, errno.h) and Xen's CPUID leaves and hypercall page. Each check runs in a guest;
/// the guest reports through its console like any XTF test.
/// </summary>
[TestFixture]
public sealed class HypercallAbiTests
{
    private const ulong BeyondRam = 0xFFFFF000;

    /// <summary>A guest that checks hypercall results and reports each mismatch as a failure.</summary>
    public sealed class AbiGuest : TestCase
    {
        public override void Main()
        {
            ExpectResult("unknown hypercall 99", Hypercall(99), -XenErrno.ENOSYS);
            ExpectResult("xen_version(XENVER_pagesize)", Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Pagesize), 4096);
            ExpectResult("xen_version(99)", Hypercall(HypercallNumber.XenVersion, 99), -XenErrno.ENOSYS);
            ExpectResult("xen_version(XENVER_commandline) unprivileged",
                Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Commandline, 0x110000), -XenErrno.EPERM);
            ExpectResult("console_io(CONSOLEIO_write) from beyond RAM",
                Hypercall(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 4, BeyondRam), -XenErrno.EFAULT);
            ExpectResult("console_io(5)", Hypercall(HypercallNumber.ConsoleIo, 5, 0, 0), -XenErrno.ENOSYS);
            ExpectResult("sched_op(99)", Hypercall(HypercallNumber.SchedOp, 99), -XenErrno.ENOSYS);
            ExpectResult("sched_op(SCHEDOP_yield)", Hypercall(HypercallNumber.SchedOp, SchedOpCommand.Yield), 0);
            ExpectResult("sched_op(SCHEDOP_shutdown) with a pointer beyond RAM",
                Hypercall(HypercallNumber.SchedOp, SchedOpCommand.Shutdown, BeyondRam), -XenErrno.EFAULT);

            long version = Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Version);
            var leaf1 = Cpuid(XenCpuid.Base + 1);
            // public/version.h: XENVER_version returns major << 16 | minor, as CPUID 0x40000001 EAX does.
            ExpectResult("xen_version(XENVER_version) agrees with CPUID 0x40000001", version, leaf1.Eax);

            var leaf0 = Cpuid(XenCpuid.Base);
            if (leaf0.Ebx != 0x566E6558 || leaf0.Ecx != 0x65584D4D || leaf0.Edx != 0x4D4D566E || leaf0.Eax < XenCpuid.Base + 2)
                Failure($"Fail: CPUID 0x40000000 = {leaf0}, expected \"XenVMMXenVMM\" and at least 2 leaves\n");
            if ((Cpuid(1).Ecx & (1u << 31)) == 0)
                Failure("Fail: CPUID.1:ECX.hypervisor clear\n");

            // The hypercall page slot for __HYPERVISOR_iret holds ud2: HVM guests cannot use it.
            var iret = Exec(a => a.call(0x102000 + (23 * 32)));
            if (iret != ExInfo.Fault(X86Vector.UD))
                Failure($"Fail: HYPERVISOR_iret slot: expected #UD, got {iret}\n");

            // The hypercall MSR accepts page index 0 only (guest_wrmsr_xen): other indices are #GP.
            var badIndex = Exec(a =>
            {
                a.mov(ecx, XenCpuid.HypercallPageMsr);
                a.mov(eax, 0x102001);
                a.xor(edx, edx);
                a.wrmsr();
            });
            if (badIndex != ExInfo.Fault(X86Vector.GP, 0))
                Failure($"Fail: hypercall MSR with page index 1: expected #GP[0000], got {badIndex}\n");

            Success();
        }

        private void ExpectResult(string what, long got, long expected)
        {
            if (got != expected)
                Failure($"Fail: {what} returned {got}, expected {expected}\n");
        }
    }

    /// <summary>SCHEDOP_shutdown with a reason beyond SHUTDOWN_MAX (5) is -EINVAL and the domain runs on.</summary>
    public sealed class BadShutdownReasonGuest : TestCase
    {
        public override void Main()
        {
            var r = ExecDetailed(a =>
            {
                a.push(99);
                a.mov(ebx, SchedOpCommand.Shutdown);
                a.mov(ecx, esp);
                a.call(0x102000 + (HypercallNumber.SchedOp * 32));
                a.add(esp, 4);
            });
            if ((int)r.Eax != -XenErrno.EINVAL)
                Failure($"Fail: SCHEDOP_shutdown(99) returned {(int)r.Eax}, expected {-XenErrno.EINVAL}\n");
            else
                Success();
        }
    }

    [Test]
    public void ShutdownWithAnUnknownReasonIsRefused()
    {
        var o = GuestHarness.Run<BadShutdownReasonGuest>();
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
    }

    [Test]
    public void HypercallsFollowXensPublicAbi()
    {
        var o = GuestHarness.Run<AbiGuest>();
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
    }

    [Test]
    public void HypercallPageStubsAreMovVmcallRet()
    {
        byte[] page = HypercallPage.BuildHvm();
        // Slot 18 (console_io): mov $18, %eax; vmcall; ret; then int3 filler.
        Assert.That(page.Skip(18 * 32).Take(10).ToArray(),
            Is.EqualTo(new byte[] { 0xB8, 18, 0, 0, 0, 0x0F, 0x01, 0xC1, 0xC3, 0xCC }));
        // Slot 23 (iret): ud2 only.
        Assert.That(page.Skip(23 * 32).Take(3).ToArray(), Is.EqualTo(new byte[] { 0x0F, 0x0B, 0xCC }));
        Assert.That(HypercallPage.BuildHvm(amd: true).Skip(7).First(), Is.EqualTo(0xD9), "vmmcall on AMD");
    }
}
