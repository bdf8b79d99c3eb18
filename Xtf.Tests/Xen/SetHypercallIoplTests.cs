using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Machine;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Hypercalls;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen;

/// <summary>
/// __HYPERVISOR_set_hypercall_iopl (our extension, DESIGN.md section 5): number 50, argument
/// <c>unsigned int iopl</c> 0..3 (else -EINVAL), guest kernel only (else -EPERM), absent
/// (-ENOSYS, as any unknown hypercall) when the hypervisor option is off; afterwards HVM
/// hypercalls are accepted from CPL &lt;= iopl.
/// </summary>
[TestFixture]
public sealed class SetHypercallIoplTests
{
    /// <summary>A domain reduced to what the handler uses; guest memory is never touched.</summary>
    private sealed class FakeDomain(bool enabled, bool kernel) : IHypercallContext, IHypercallPrivilegeContext
    {
        public bool Kernel { get; set; } = kernel;

        public HypercallPrivilege HypercallPrivilege => privilege ??= new HypercallPrivilege(enabled, () => Kernel);

        private HypercallPrivilege? privilege;

        public GuestMemory Guest => throw new AssertionException("set_hypercall_iopl has no pointer argument");

        public ConsoleLog HypervisorConsole { get; } = new();

        public bool Is64Bit => false;

        public bool IsHvm => true;

        public ShutdownReason? ShutdownCode { get; set; }

        public DomainState Domain => throw new AssertionException("set_hypercall_iopl uses no event-channel or parameter state");

        public HypercallPreemption Preemption => throw new AssertionException("set_hypercall_iopl is not preemptible");

        public void Shutdown(ShutdownReason reason) => throw new AssertionException("no shutdown expected");
    }

    /// <summary>A context without hypercall privilege state (a domain type that does not offer the extension).</summary>
    private sealed class PlainDomain : IHypercallContext
    {
        public GuestMemory Guest => throw new AssertionException("unexpected guest access");

        public ConsoleLog HypervisorConsole { get; } = new();

        public bool Is64Bit => false;

        public bool IsHvm => true;

        public ShutdownReason? ShutdownCode { get; set; }

        public DomainState Domain => throw new AssertionException("set_hypercall_iopl uses no event-channel or parameter state");

        public HypercallPreemption Preemption => throw new AssertionException("set_hypercall_iopl is not preemptible");

        public void Shutdown(ShutdownReason reason) => throw new AssertionException("no shutdown expected");
    }

    private static long Call(IHypercallContext ctx, ulong iopl) =>
        HypercallTable.Dispatch(ctx, HypercallNumber.SetHypercallIopl, new HypercallArgs(iopl, 0, 0, 0, 0));

    [Test]
    public void TheNumberIsTheSpareArch2Slot() =>
        // public/xen.h: __HYPERVISOR_arch_0 = 48 ... __HYPERVISOR_arch_7 = 55; arch_2 is unused on x86.
        Assert.That(HypercallNumber.SetHypercallIopl, Is.EqualTo(48 + 2));

    [TestCase(0u)]
    [TestCase(1u)]
    [TestCase(2u)]
    [TestCase(3u)]
    public void KernelSetsEachIoplFrom0To3(uint iopl)
    {
        var d = new FakeDomain(enabled: true, kernel: true);
        Assert.That(Call(d, iopl), Is.EqualTo(0));
        Assert.That(d.HypercallPrivilege.Iopl, Is.EqualTo((int)iopl));
    }

    [TestCase(4ul)]
    [TestCase(0xFFFFFFFFul)]
    [TestCase(0x80000000ul)]
    public void IoplAbove3IsEinvalAndLeavesTheStateAlone(ulong iopl)
    {
        var d = new FakeDomain(enabled: true, kernel: true);
        Assert.That(Call(d, 2), Is.EqualTo(0));
        Assert.That(Call(d, iopl), Is.EqualTo(-XenErrno.EINVAL));
        Assert.That(d.HypercallPrivilege.Iopl, Is.EqualTo(2));
    }

    [Test]
    public void TheArgumentIsAnUnsignedInt()
    {
        // unsigned int iopl: a 64-bit caller's upper register half is not part of the argument.
        var d = new FakeDomain(enabled: true, kernel: true);
        Assert.That(Call(d, 0x1_0000_0003ul), Is.EqualTo(0));
        Assert.That(d.HypercallPrivilege.Iopl, Is.EqualTo(3));
    }

    [Test]
    public void NonKernelCallerIsEpermBeforeTheArgumentIsChecked()
    {
        var d = new FakeDomain(enabled: true, kernel: true);
        Assert.That(Call(d, 3), Is.EqualTo(0));
        d.Kernel = false;
        Assert.Multiple(() =>
        {
            Assert.That(Call(d, 0), Is.EqualTo(-XenErrno.EPERM), "a valid iopl from user mode");
            Assert.That(Call(d, 4), Is.EqualTo(-XenErrno.EPERM), "privilege is checked before the argument");
            Assert.That(d.HypercallPrivilege.Iopl, Is.EqualTo(3), "a refused call changes nothing");
        });
    }

    [Test]
    public void SwitchedOffTheHypercallIsUnknown()
    {
        var d = new FakeDomain(enabled: false, kernel: true);
        Assert.Multiple(() =>
        {
            Assert.That(Call(d, 3), Is.EqualTo(-XenErrno.ENOSYS));
            Assert.That(Call(d, 4), Is.EqualTo(-XenErrno.ENOSYS), "no argument check without the extension");
            Assert.That(d.HypercallPrivilege.Iopl, Is.EqualTo(0));
            Assert.That(HypercallTable.Dispatch(new PlainDomain(), HypercallNumber.SetHypercallIopl, default), Is.EqualTo(-XenErrno.ENOSYS),
                "a domain without hypercall privilege state");
        });
    }

    [Test]
    public void AdmitsCplUpToIopl()
    {
        var d = new FakeDomain(enabled: true, kernel: true);
        Assert.That(Enumerable.Range(0, 4).Select(d.HypercallPrivilege.Admits), Is.EqualTo(new[] { true, false, false, false }), "default 0: Xen's rule");
        Assert.That(Call(d, 2), Is.EqualTo(0));
        Assert.That(Enumerable.Range(0, 4).Select(d.HypercallPrivilege.Admits), Is.EqualTo(new[] { true, true, true, false }));
    }

    [Test]
    public void HypercallPageSlot50IsMovVmcallRet()
    {
        // mov $50, %eax (B8 imm32); vmcall (0F 01 C1); ret (C3); then the int3 filler.
        Assert.That(HypercallPage.BuildHvm().Skip(50 * HypercallPage.SlotSize).Take(10).ToArray(),
            Is.EqualTo(new byte[] { 0xB8, 50, 0, 0, 0, 0x0F, 0x01, 0xC1, 0xC3, 0xCC }));
    }

    /// <summary>
    /// The VMCALL rule in a real guest: xen_version from CPL 3 through a user-text stub is -EPERM
    /// at iopl 0 and returns the version at iopl 3; set_hypercall_iopl(9) from the kernel is
    /// -EINVAL. Each outcome is printed as a line the NUnit test reads.
    /// </summary>
    public sealed class VmcallRuleGuest : TestCase
    {
        public override void Main()
        {
            Printk($"user at iopl 0: {UserVersion()}\n");
            Printk($"set 9: {HypercallSetIopl(9)}\n");
            Printk($"set 3: {HypercallSetIopl(3)}\n");
            Printk($"user at iopl 3: {UserVersion()}\n");
            Printk($"set 0: {HypercallSetIopl(0)}\n");
            Success();
        }

        private long UserVersion()
        {
            long rc = 0;
            _ = ExecUser(() =>
            {
                rc = UserHypercall(HypercallNumber.XenVersion, XenVersionCommand.Version);
                return 0;
            });
            return rc;
        }
    }

    private const long Version = (XenVersion.Major << 16) | XenVersion.Minor;

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    public void VmcallFromCpl3FollowsTheHypercallIopl(Environments env)
    {
        var o = GuestHarness.Run<VmcallRuleGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        Assert.That(o.Lines, Does.Contain("user at iopl 0: -1").And.Contain("set 9: -22").And.Contain("set 3: 0")
            .And.Contain($"user at iopl 3: {Version}").And.Contain("set 0: 0"), o.ConsoleLog);
    }

    /// <summary>
    /// hvm64 user code in compatibility mode: the 32-bit hypercall ABI (number in EAX, arguments
    /// from EBX), the same CPL rule. The VMCALL is inline in the ExecUser snippet.
    /// </summary>
    public sealed class CompatUserGuest : TestCase
    {
        public override void Main()
        {
            ExecUserCs = Xtf.Core.Guest.Image.HvmLayout.UserCs;
            Printk($"compat user at iopl 0: {UserVersion()}\n");
            Printk($"set 3: {HypercallSetIopl(3)}\n");
            Printk($"compat user at iopl 3: {UserVersion()}\n");
            ExecUserCs = 0;
            Success();
        }

        private long UserVersion()
        {
            var r = ExecUserDetailed(a =>
            {
                a.mov(ebx, XenVersionCommand.Version);
                a.mov(eax, HypercallNumber.XenVersion);
                a.vmcall();
            });
            return r.Fault.IsNone ? (int)r.Eax : long.MinValue;
        }
    }

    [Test]
    public void CompatibilityModeUserCodeFollowsTheSameRule()
    {
        var o = GuestHarness.Run<CompatUserGuest>(env: Environments.Hvm64);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.Diagnostic + "\n" + o.ConsoleLog);
        Assert.That(o.Lines, Does.Contain("compat user at iopl 0: -1").And.Contain("set 3: 0")
            .And.Contain($"compat user at iopl 3: {Version}"), o.ConsoleLog);
    }

    [Test]
    public void SwitchedOffUserHypercallsStayRefused()
    {
        var o = GuestHarness.Run<VmcallRuleGuest>(settings: new RunSettings { UserHypercalls = false });
        Assert.That(o.Lines, Does.Contain("user at iopl 0: -1").And.Contain("set 9: -38").And.Contain("set 3: -38")
            .And.Contain("user at iopl 3: -1"), o.ConsoleLog);
    }
}
