using NUnit.Framework;
using Xtf.Core.Xen;

namespace Xtf.Tests.Xen;

/// <summary>
/// HYPERVISOR_sysctl (35), xen/common/sysctl.c do_sysctl of RELEASE-4.19.0: struct xen_sysctl
/// { u32 cmd @0; u32 interface_version @4; union (128 bytes) @8 } is copied in (-EFAULT 14), a
/// version other than XEN_SYSCTL_INTERFACE_VERSION 0x15 is -EACCES (13), and the dummy XSM's
/// XSM_PRIV check refuses a guest domain (-EPERM 1) whatever the command.
/// </summary>
public sealed class SysctlTests
{
    private const ulong Arg = 0x10000;

    private static long Sysctl(HypercallTestDomain d, uint cmd, uint version)
    {
        var s = new byte[136];
        BitConverter.TryWriteBytes(s.AsSpan(0), cmd);
        BitConverter.TryWriteBytes(s.AsSpan(4), version);
        d.Write(Arg, s);
        return d.Call(HypercallNumber.Sysctl, Arg);
    }

    /// <summary>
    /// XTF's xtf_probe_sysctl_interface_version counts versions 0.. until the result is not
    /// -EACCES: here 0x15 is the first, and there the guest is refused with -EPERM, for
    /// XEN_SYSCTL_livepatch_op (27) as for cmd 0.
    /// </summary>
    [TestCase(true)]
    [TestCase(false)]
    public void VersionThenPrivilege(bool wide)
    {
        var d = new HypercallTestDomain(wide);
        for (uint v = 0; v < 0x15; v++)
            Assert.That(Sysctl(d, 0, v), Is.EqualTo(-XenErrno.EACCES), $"version {v:x}");
        Assert.That(Sysctl(d, 0, 0x15), Is.EqualTo(-XenErrno.EPERM));
        Assert.That(Sysctl(d, 27, 0x15), Is.EqualTo(-XenErrno.EPERM));
        Assert.That(Sysctl(d, 27, 0x16), Is.EqualTo(-XenErrno.EACCES));
    }

    /// <summary>The structure is copied before anything else: a bad handle is -EFAULT, whatever the version.</summary>
    [Test]
    public void UnreadableArgumentIsEfault()
    {
        var d = new HypercallTestDomain(true);
        Assert.That(d.Call(HypercallNumber.Sysctl, HypercallTestDomain.BeyondRam), Is.EqualTo(-XenErrno.EFAULT));
        // The last byte of the 136 must be readable too.
        Assert.That(d.Call(HypercallNumber.Sysctl, HypercallTestDomain.RamTop - 135), Is.EqualTo(-XenErrno.EFAULT));
    }
}
