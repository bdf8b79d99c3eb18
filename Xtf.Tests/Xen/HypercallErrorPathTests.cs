using NUnit.Framework;
using Xtf.Core.Xen;

namespace Xtf.Tests.Xen;

/// <summary>
/// The error paths of console_io, sched_op and xen_version: bad pointers, bad counts and
/// unknown commands return the -errno Xen's handlers return (values from public/errno.h).
/// </summary>
[TestFixture]
public sealed class HypercallErrorPathTests
{
    private const ulong Bad = HypercallTestDomain.BeyondRam;
    private const ulong Buffer = 0x8000;

    [TestCase(-1)]
    [TestCase(63)]
    [TestCase(64)]
    [TestCase(int.MaxValue)]
    [TestCase(int.MinValue)]
    public void AnUnknownHypercallNumberIsEnosys(int number)
    {
        // hvm_hypercall: eax >= ARRAY_SIZE(hvm_hypercall_table) or no handler -> -ENOSYS.
        Assert.That(new HypercallTestDomain(true).Call(number), Is.EqualTo(-XenErrno.ENOSYS));
    }

    [TestCase(2)]
    [TestCase(-1)]
    [TestCase(0x10000)]
    public void ConsoleIoUnknownCommandIsEnosys(int cmd)
    {
        // drivers/char/console.c do_console_io: default: rc = -ENOSYS.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.ConsoleIo, (ulong)(uint)cmd, 1, Buffer), Is.EqualTo(-XenErrno.ENOSYS));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ConsoleIoWriteFromOutsideGuestMemoryIsEfault(bool is64Bit)
    {
        // guest_console_write: copy_from_guest fails -> -EFAULT.
        var d = new HypercallTestDomain(is64Bit);
        Assert.That(d.Call(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 4, Bad), Is.EqualTo(-XenErrno.EFAULT));
        // A count that runs the buffer past the end of RAM faults too.
        Assert.That(d.Call(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 32, HypercallTestDomain.RamTop - 16),
            Is.EqualTo(-XenErrno.EFAULT));
    }

    [Test]
    public void ConsoleIoWriteOfZeroBytesFromAnyPointerIsZero()
    {
        // guest_console_write: the copy loop runs while count > 0; nothing is copied.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 0, Bad), Is.EqualTo(0));
        Assert.That(d.HypervisorConsole.Length, Is.EqualTo(0));
    }

    [TestCase(7)]
    [TestCase(99)]
    [TestCase(-1)]
    public void SchedOpUnknownCommandIsEnosys(int cmd)
    {
        // common/sched/core.c do_sched_op: default: ret = -ENOSYS.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.SchedOp, (ulong)(uint)cmd, Buffer), Is.EqualTo(-XenErrno.ENOSYS));
    }

    [TestCase(SchedOpCommand.Shutdown)]
    [TestCase(SchedOpCommand.ShutdownCode)]
    public void SchedOpShutdownWithABadPointerIsEfaultAndTheDomainRunsOn(int cmd)
    {
        // do_sched_op SCHEDOP_shutdown / SCHEDOP_shutdown_code: copy_from_guest fails -> -EFAULT
        // before domain_shutdown is reached.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.SchedOp, (ulong)cmd, Bad), Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(d.ShutdownState, Is.Null);
        Assert.That(d.ShutdownCode, Is.Null);
    }

    [TestCase(SchedOpCommand.Yield)]
    [TestCase(SchedOpCommand.Block)]
    public void SchedOpYieldAndBlockIgnoreTheirArgument(int cmd)
    {
        // do_sched_op SCHEDOP_yield / SCHEDOP_block never read arg.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.SchedOp, (ulong)cmd, Bad), Is.EqualTo(0));
    }

    [TestCase(15)]
    [TestCase(99)]
    [TestCase(-1)]
    public void XenVersionUnknownCommandIsEnosys(int cmd)
    {
        // common/kernel.c do_xen_version: default: return -ENOSYS.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.XenVersion, (ulong)(uint)cmd, Buffer), Is.EqualTo(-XenErrno.ENOSYS));
    }

    [TestCase(XenVersionCommand.Extraversion, true)]
    [TestCase(XenVersionCommand.CompileInfo, true)]
    [TestCase(XenVersionCommand.Capabilities, true)]
    [TestCase(XenVersionCommand.Changeset, true)]
    [TestCase(XenVersionCommand.PlatformParameters, true)]
    [TestCase(XenVersionCommand.PlatformParameters, false)]
    [TestCase(XenVersionCommand.GetFeatures, true)]
    [TestCase(XenVersionCommand.GuestHandle, true)]
    [TestCase(XenVersionCommand.Extraversion2, true)]
    [TestCase(XenVersionCommand.Capabilities2, false)]
    [TestCase(XenVersionCommand.Changeset2, true)]
    public void XenVersionCopiesToOrFromABadPointerAreEfault(int cmd, bool is64Bit)
    {
        // do_xen_version: every copy_{to,from}_guest failure returns -EFAULT.
        var d = new HypercallTestDomain(is64Bit);
        Assert.That(d.Call(HypercallNumber.XenVersion, (ulong)cmd, Bad), Is.EqualTo(-XenErrno.EFAULT));
    }

    [Test]
    public void XenVersionVarbufShorterThanTheStringIsEnobufs()
    {
        // common/kernel.c xenver_varbuf: sz > user_str->len -> -ENOBUFS, nothing copied.
        var d = new HypercallTestDomain(true);
        d.Write(Buffer, [1, 0, 0, 0, 0xEE]);
        Assert.That(d.Call(HypercallNumber.XenVersion, XenVersionCommand.Capabilities2, Buffer), Is.EqualTo(-XenErrno.ENOBUFS));
        Assert.That(d.Read(Buffer + 4, 1)[0], Is.EqualTo(0xEE));
    }

    [Test]
    public void XenVersionVarbufWhoseBufferRunsOffMemoryIsEfault()
    {
        // The length fits in RAM but the string does not: the copy_to_guest of the string fails.
        var d = new HypercallTestDomain(true);
        ulong header = HypercallTestDomain.RamTop - 6;
        d.Write(header, [0xFF, 0xFF, 0, 0]);
        Assert.That(d.Call(HypercallNumber.XenVersion, XenVersionCommand.Changeset2, header), Is.EqualTo(-XenErrno.EFAULT));
    }

    [TestCase(XenVersionCommand.BuildId)]
    [TestCase(XenVersionCommand.Commandline2)]
    public void XenVersionPrivilegedVarbufSubopsAreEpermEvenWithABadPointer(int cmd)
    {
        // common/kernel.c: xsm_xen_version (dummy policy) is XSM_PRIV for these, and the varbuf
        // sub-ops return -EPERM on deny before any copy.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.XenVersion, (ulong)cmd, Bad), Is.EqualTo(-XenErrno.EPERM));
    }

    [Test]
    public void XenVersionCommandlineDeniedIsACopyThatCanFault()
    {
        // common/kernel.c XENVER_commandline: on deny it copies xen_deny() ("<denied>", 9 bytes with
        // the NUL) and returns 0; the copy to a bad pointer is -EFAULT.
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.XenVersion, XenVersionCommand.Commandline, Buffer), Is.Zero);
        Assert.That(d.Read(Buffer, 9), Is.EqualTo("<denied>\0"u8.ToArray()));
        Assert.That(d.Call(HypercallNumber.XenVersion, XenVersionCommand.Commandline, Bad), Is.EqualTo(-XenErrno.EFAULT));
    }
}
