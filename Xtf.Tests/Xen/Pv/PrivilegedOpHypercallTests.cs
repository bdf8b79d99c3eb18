using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Tests.Guests;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// physdev_op (do_physdev_op, x86/physdev.c) and vm_assist (do_vm_assist, common/domain.c)
/// error paths, and a guest feeding them random arguments.
/// </summary>
public sealed class PrivilegedOpHypercallTests
{
    private static readonly Environments[] Pv = [Environments.Pv64, Environments.Pv32Pae];

    private sealed class PhysdevGuest : TestCase
    {
        public override void Main()
        {
            ulong scratch = HvmLayout.Scratch;
            Printk($"set_iopl null {HypercallPhysdevOp(6, 0)}\n");
            Printk($"set_iopl 4 {HypercallPhysdevSetIopl(4)}\n");
            Printk($"set_iopl ~0 {HypercallPhysdevSetIopl(uint.MaxValue)}\n");
            Printk($"set_iopl 3 {HypercallPhysdevSetIopl(3)} cli {Exec(a => a.cli())}\n");
            Printk($"set_iopl 0 {HypercallPhysdevSetIopl(0)} cli {Exec(a => a.cli())}\n");

            int wide = Bitness == 64 ? 8 : 4;
            var arg = new byte[16];
            void SetIobitmap(string what, ulong bitmap, uint ports)
            {
                Array.Clear(arg);
                if (wide == 8)
                    BitConverter.TryWriteBytes(arg.AsSpan(0), bitmap);
                else
                    BitConverter.TryWriteBytes(arg.AsSpan(0), (uint)bitmap);
                BitConverter.TryWriteBytes(arg.AsSpan(wide), ports);
                Runtime.WriteKernelBytes(scratch, arg);
                Printk($"set_iobitmap {what} {HypercallPhysdevOp(7, scratch)}\n");
            }

            Printk($"set_iobitmap null {HypercallPhysdevOp(7, 0)}\n");
            SetIobitmap("65537", scratch + 64, 65537);
            SetIobitmap("65536", scratch + 64, 65536);
            SetIobitmap("xen", Bitness == 64 ? 0xFFFF800000000000 : 0xF5800000, 8);
            SetIobitmap("off", 0, 0);

            Runtime.WriteKernelBytes(scratch, new byte[16]);
            Printk($"apic_read {HypercallPhysdevOp(8, scratch)} null {HypercallPhysdevOp(8, 0)}\n");
            Printk($"apic_write {HypercallPhysdevOp(9, scratch)}\n");
            Printk($"alloc_irq_vector {HypercallPhysdevOp(10, scratch)} null {HypercallPhysdevOp(10, 0)}\n");
            Printk($"manage_pci_add null {HypercallPhysdevOp(15, 0)}\n");
            Printk($"setup_gsi null {HypercallPhysdevOp(21, 0)}\n");
            Printk($"unknown {HypercallPhysdevOp(99, scratch)} {HypercallPhysdevOp(-1, scratch)}\n");

            Printk($"vm_assist enable 4 {HypercallVmAssist(0, 4)}\n");
            Printk($"vm_assist disable 4 {HypercallVmAssist(1, 4)}\n");
            Printk($"vm_assist enable 5 {HypercallVmAssist(0, 5)}\n");
            Printk($"vm_assist enable 32 {HypercallVmAssist(0, 32)}\n");
            Printk($"vm_assist enable 6 {HypercallVmAssist(0, 6)}\n");
            Printk($"vm_assist enable 64 {HypercallVmAssist(0, 64)}\n");
            Printk($"vm_assist cmd 2 type 4 {HypercallVmAssist(2, 4)}\n");
            Printk($"vm_assist cmd 2 type 6 {HypercallVmAssist(2, 6)}\n");
            Success();
        }
    }

    private sealed class HvmGuest : TestCase
    {
        public override void Main()
        {
            Printk($"vm_assist enable 5 {HypercallVmAssist(0, 5)}\n");
            Printk($"vm_assist enable 4 {HypercallVmAssist(0, 4)}\n");
            Printk($"vm_assist cmd 2 type 5 {HypercallVmAssist(2, 5)}\n");
            Printk($"physdev set_iopl {HypercallPhysdevSetIopl(1)}\n");
            Success();
        }
    }

    /// <summary>Random commands and arguments, the pointers anywhere (kernel data, page 0, the hypervisor's range, garbage).</summary>
    private sealed class RandomGuest : TestCase
    {
        public override void Main()
        {
            var rng = new Random(6);
            var allowed = new HashSet<long> { 0, -XenErrno.EFAULT, -XenErrno.EINVAL, -XenErrno.EPERM, -XenErrno.ENOSYS };
            ulong[] pointers = [0, HvmLayout.Scratch, HvmLayout.Scratch + 0xFFC, 0xF5800000, 0xFFFF800000000000, 0x800000000000, ulong.MaxValue];
            for (int i = 0; i < 400; i++)
            {
                var junk = new byte[16];
                rng.NextBytes(junk);
                Runtime.WriteKernelBytes(HvmLayout.Scratch, junk);
                ulong cmd = rng.Next(4) == 0 ? (ulong)rng.NextInt64() : (ulong)rng.Next(40);
                ulong pointer = rng.Next(3) == 0 ? (ulong)rng.NextInt64() : pointers[rng.Next(pointers.Length)];
                long physdev = Hypercall(HypercallNumber.PhysdevOp, cmd, pointer);
                long assist = Hypercall(HypercallNumber.VmAssist, rng.Next(4) == 0 ? (ulong)rng.NextInt64() : (ulong)rng.Next(3), (ulong)rng.Next(70));
                if (!allowed.Contains(physdev) || !allowed.Contains(assist))
                {
                    Failure($"iteration {i}: physdev_op({cmd:x}, {pointer:x}) = {physdev}, vm_assist = {assist}\n");
                    return;
                }
            }

            // Leave the domain as the rest of the run expects it.
            HypercallPhysdevSetIopl(0);
            _ = HypercallVmAssist(1, 4);
            Success();
        }
    }

    private static IReadOnlyList<string> Lines<T>(Environments env)
        where T : TestCase, new()
    {
        var o = GuestHarness.Run<T>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        return o.Lines;
    }

    /// <summary>
    /// PHYSDEVOP_set_iopl: an unreadable argument is -EFAULT (-14), iopl &gt; 3 -EINVAL (-22), both
    /// leaving the vIOPL alone; 3 admits the kernel's CLI, 0 refuses it again.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void SetIoplChecksItsArgument(Environments env)
    {
        var lines = Lines<PhysdevGuest>(env);
        Assert.That(lines, Does.Contain("set_iopl null -14").And.Contain("set_iopl 4 -22").And.Contain("set_iopl ~0 -22"));
        Assert.That(lines, Does.Contain("set_iopl 3 0 cli nothing").And.Contain("set_iopl 0 0 cli #GP[0000]"));
    }

    /// <summary>
    /// PHYSDEVOP_set_iobitmap: -EFAULT, then -EINVAL for nr_ports &gt; 65536 or a bitmap in the
    /// hypervisor's range; 65536 ports and a null bitmap with no ports are accepted.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void SetIobitmapChecksItsArgument(Environments env)
    {
        var lines = Lines<PhysdevGuest>(env);
        Assert.That(lines, Does.Contain("set_iobitmap null -14").And.Contain("set_iobitmap 65537 -22"));
        Assert.That(lines, Does.Contain("set_iobitmap 65536 0").And.Contain("set_iobitmap xen -22").And.Contain("set_iobitmap off 0"));
    }

    /// <summary>
    /// A domU is not privileged: apic_read/apic_write/alloc_irq_vector copy their argument first
    /// (-EFAULT) and are then -EPERM (-1); the PCI/GSI management commands are -EPERM at once;
    /// an unknown command is -ENOSYS (-38).
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void PrivilegedCommandsAreRefused(Environments env)
    {
        var lines = Lines<PhysdevGuest>(env);
        Assert.That(lines, Does.Contain("apic_read -1 null -14").And.Contain("apic_write -1").And.Contain("alloc_irq_vector -1 null -14"));
        Assert.That(lines, Does.Contain("manage_pci_add null -1").And.Contain("setup_gsi null -1").And.Contain("unknown -38 -38"));
    }

    /// <summary>
    /// vm_assist: the type is checked first (-EINVAL for 6, 64, and for pv32's 32, outside
    /// COMPAT_VM_ASSIST_VALID), then the command (enable/disable 0, else -ENOSYS).
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void VmAssistValidatesTypeThenCommand(Environments env)
    {
        var lines = Lines<PhysdevGuest>(env);
        Assert.That(lines, Does.Contain("vm_assist enable 4 0").And.Contain("vm_assist disable 4 0").And.Contain("vm_assist enable 5 0"));
        Assert.That(lines, Does.Contain(env == Environments.Pv64 ? "vm_assist enable 32 0" : "vm_assist enable 32 -22"));
        Assert.That(lines, Does.Contain("vm_assist enable 6 -22").And.Contain("vm_assist enable 64 -22"));
        Assert.That(lines, Does.Contain("vm_assist cmd 2 type 4 -38").And.Contain("vm_assist cmd 2 type 6 -22"));
    }

    /// <summary>HVM_VM_ASSIST_MASK has runstate_update_flag only; physdev_op's set_iopl is not an HVM command (-ENOSYS).</summary>
    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void HvmHasOnlyRunstateUpdateFlag(Environments env)
    {
        var lines = Lines<HvmGuest>(env);
        Assert.That(lines, Does.Contain("vm_assist enable 5 0").And.Contain("vm_assist enable 4 -22").And.Contain("vm_assist cmd 2 type 5 -38"));
        Assert.That(lines, Does.Contain("physdev set_iopl -38"));
    }

    /// <summary>Random physdev_op and vm_assist arguments: only Xen's results, and the guest runs on (no host exception).</summary>
    [TestCaseSource(nameof(Pv))]
    public void RandomArgumentsReturnErrnosOnly(Environments env)
    {
        var o = GuestHarness.Run<RandomGuest>(env: env, budget: 20_000_000);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }
}
