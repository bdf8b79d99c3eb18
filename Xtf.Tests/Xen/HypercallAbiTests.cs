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

    /// <summary>
    /// xen_version as do_xen_version (xen/common/kernel.c, Xen 4.19 and later) answers an
    /// unprivileged domain: XENVER_commandline copies xen_deny()'s "&lt;denied&gt;" (strlen + 1 bytes)
    /// and returns 0, since xsm_xen_version's XSM_PRIV makes it deny, not fail; XENVER_get_features
    /// with a submap index other than 0 (XENFEAT_NR_SUBMAPS is 1) is -EINVAL and writes nothing;
    /// submap 0 is the XENFEAT_* set built there (public/features.h numbers) for an HVM domain
    /// (translated, not direct-mapped, libxl's default of no pirqs) or a PV one (direct-mapped, no
    /// pae_extended_cr3 assist); XENVER_pagesize with a non-null handle is -EINVAL.
    /// </summary>
    public sealed class XenVersionGuest : TestCase
    {
        // HVM: writable_page_tables 0, auto_translated_physmap 2, hvm_callback_vector 8,
        // hvm_safe_pvclock 9, memory_op_vnode_supported 13, not_direct_mapped 16,
        // runstate_phys_area 18, vcpu_time_phys_area 19, dm_msix_all_writes 20.
        private const uint HvmSubmap = (1u << 0) | (1u << 2) | (1u << 8) | (1u << 9) | (1u << 13) | (1u << 16) | (1u << 18) | (1u << 19) | (1u << 20);

        // PV: mmu_pt_update_preserve_ad 5, highmem_assist 6, gnttab_map_avail_bits 7,
        // memory_op_vnode_supported 13, direct_mapped 17, runstate_phys_area 18,
        // vcpu_time_phys_area 19, dm_msix_all_writes 20.
        private const uint PvSubmap = (1u << 5) | (1u << 6) | (1u << 7) | (1u << 13) | (1u << 17) | (1u << 18) | (1u << 19) | (1u << 20);

        private const ulong Buffer = Xtf.Core.Guest.Image.HvmLayout.Scratch;

        public override void Main()
        {
            WriteKernelMemory(Buffer, new byte[16]);
            Expect("xen_version(XENVER_commandline) unprivileged", Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Commandline, Buffer), 0);
            var text = Enumerable.Range(0, 9).Select(i => (byte)ReadKernelMemory(Buffer + (ulong)i, 1)).ToArray();
            if (!text.SequenceEqual("<denied>\0"u8.ToArray()))
                Failure($"Fail: XENVER_commandline copied \"{System.Text.Encoding.ASCII.GetString(text)}\", expected \"<denied>\" and its NUL\n");

            uint expected = Runtime.IsPv ? PvSubmap : HvmSubmap;
            WriteKernelMemory(Buffer, [0, 0, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE]);
            Expect("xen_version(XENVER_get_features) submap 0", Hypercall(HypercallNumber.XenVersion, XenVersionCommand.GetFeatures, Buffer), 0);
            if ((uint)ReadKernelMemory(Buffer + 4, 4) is var submap && submap != expected)
                Failure($"Fail: XENVER_get_features submap 0 = {submap:x8}, expected {expected:x8}\n");

            WriteKernelMemory(Buffer, [1, 0, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE]);
            Expect("xen_version(XENVER_get_features) submap 1", Hypercall(HypercallNumber.XenVersion, XenVersionCommand.GetFeatures, Buffer), -XenErrno.EINVAL);
            if ((uint)ReadKernelMemory(Buffer + 4, 4) != 0xDEADBEEF)
                Failure("Fail: XENVER_get_features submap 1 wrote the submap\n");

            Expect("xen_version(XENVER_pagesize, NULL)", Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Pagesize, 0), 4096);
            Expect("xen_version(XENVER_pagesize, buffer)", Hypercall(HypercallNumber.XenVersion, XenVersionCommand.Pagesize, Buffer), -XenErrno.EINVAL);
            Success();
        }

        private void Expect(string what, long got, long expected)
        {
            if (got != expected)
                Failure($"Fail: {what} returned {got}, expected {expected}\n");
        }
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    [TestCase(Environments.Pv32Pae)]
    [TestCase(Environments.Pv64)]
    public void XenVersionAnswersAnUnprivilegedDomainAsXenDoes(Environments env)
    {
        var o = GuestHarness.Run<XenVersionGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
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
