using NUnit.Framework;
using Xtf.Core.Xen;

namespace Xtf.Tests.Xen;

/// <summary>
/// HYPERVISOR_vcpu_op (24), xen/common/domain.c do_vcpu_op: the vCPU is looked up first
/// (domain_vcpu() NULL: -ENOENT 2, for any command), so with one vCPU every command on vCPU 1
/// fails so; upstream XTF's xsa-296 reads that -ENOENT as "Insufficient vcpus". On vCPU 0, which
/// the builder initialised and started: VCPUOP_initialise (0) -EEXIST 17, VCPUOP_up (1) 0,
/// VCPUOP_is_up (3) 1 (public/vcpu.h).
/// </summary>
public sealed class VcpuOpTests
{
    [TestCase(true, 0u)]
    [TestCase(true, 1u)]
    [TestCase(false, 0u)]
    [TestCase(false, 3u)]
    public void AVcpuTheDomainLacksIsEnoent(bool wide, uint cmd) =>
        Assert.That(new HypercallTestDomain(wide).Call(HypercallNumber.VcpuOp, cmd, 1), Is.EqualTo(-XenErrno.ENOENT));

    [TestCase(0u, -XenErrno.EEXIST)]
    [TestCase(1u, 0)]
    [TestCase(3u, 1)]
    public void TheRunningVcpu(uint cmd, long expected) =>
        Assert.That(new HypercallTestDomain(true).Call(HypercallNumber.VcpuOp, cmd, 0), Is.EqualTo(expected));
}
