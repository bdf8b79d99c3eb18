using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Xen.Viridian;

namespace Xtf.Tests.Xen;

/// <summary>
/// CPUID's hypervisor leaves with and without viridian. Values from Xen: viridian.c
/// cpuid_viridian_leaves (max leaf 0x40000006, "Microsoft Hv", "Hv#1", build 0x1772 version 6.0,
/// the partition privilege mask, spinlock retries 2047) and cpuid.c cpuid_hypervisor_leaves
/// (Xen's base 0x40000100 in a viridian domain, "XenVMMXenVMM", limit XEN_CPUID_MAX_NUM_LEAVES 5,
/// hypercall MSR 0x40000200).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class ViridianCpuidTests
{
    // "XenVMMXenVMM" (public/arch-x86/cpuid.h XEN_CPUID_SIGNATURE_E[BCD]X).
    private const uint XenEbx = 0x566E6558, XenEcx = 0x65584D4D, XenEdx = 0x4D4D566E;

    private const ViridianFeatures Xsa472Groups = ViridianFeatures.BaseFreq | ViridianFeatures.NoFreq | ViridianFeatures.ReferenceTsc;

    [Test]
    public void HyperVSignatureAt0x40000000()
    {
        var v = new ViridianHarness(Xsa472Groups);
        // "Micr", "osof", "t Hv" as little-endian words.
        Assert.That(v.Cpuid(0x40000000), Is.EqualTo(new CpuidResult(0x40000006, 0x7263694D, 0x666F736F, 0x76482074)));
        Assert.That(v.Cpuid(0x40000001), Is.EqualTo(new CpuidResult(0x31237648, 0, 0, 0)), "\"Hv#1\"");
    }

    [Test]
    public void XenLeavesMoveTo0x40000100()
    {
        var v = new ViridianHarness(Xsa472Groups);
        Assert.That(v.Cpuid(0x40000100), Is.EqualTo(new CpuidResult(0x40000105, XenEbx, XenEcx, XenEdx)));
        Assert.That(v.Cpuid(0x40000102).Ebx, Is.EqualTo(0x40000200u), "leaf 2 EBX: the hypercall MSR shifted out of the viridian MSRs");
        Assert.That(v.Cpuid(0x40000106), Is.EqualTo(default(CpuidResult)), "above Xen's limit");
        Assert.That(v.Cpuid(0x40000007), Is.EqualTo(default(CpuidResult)), "above the Hyper-V maximum");
    }

    [Test]
    public void XenLeavesAt0x40000000WithoutViridian()
    {
        var v = new ViridianHarness(ViridianFeatures.None);
        Assert.That(v.Cpuid(0x40000000), Is.EqualTo(new CpuidResult(0x40000005, XenEbx, XenEcx, XenEdx)));
        Assert.That(v.Cpuid(0x40000002).Ebx, Is.EqualTo(0x40000000u));
        Assert.That(v.Cpuid(0x40000100), Is.EqualTo(default(CpuidResult)), "nothing at 0x40000100");
    }

    [Test]
    public void PrivilegeMaskFollowsTheGroups()
    {
        // AccessIntrCtrlRegs (4), AccessHypercallMsrs (5), AccessVpIndex (6) always; AccessPartitionReferenceTsc (9).
        Assert.That(new ViridianHarness(Xsa472Groups).Cpuid(0x40000003), Is.EqualTo(new CpuidResult(0x270, 0, 0, 0)));

        // libxl's defaults: base_freq | time_ref_count | apic_assist | crash_ctl | no_vp_limit | cpu_hotplug.
        // EAX adds AccessFrequencyRegs (11) and AccessPartitionReferenceCounter (1); EDX CPU_DYNAMIC_PARTITIONING (3) and CRASH_MSRS (10).
        var defaults = (ViridianFeatures)0x1865;
        var v = new ViridianHarness(defaults);
        Assert.That(v.Cpuid(0x40000003), Is.EqualTo(new CpuidResult(0x872, 0, 0, 0x408)));
        Assert.That(v.Cpuid(0x40000005).Eax, Is.EqualTo(uint.MaxValue), "no_vp_limit");

        // synic (AccessSynicRegs 2, SINT_POLLING 17) and stimer (AccessSyntheticTimerRegs 3).
        var timers = ViridianFeatures.BaseFreq | ViridianFeatures.TimeRefCount | ViridianFeatures.Synic | ViridianFeatures.Stimer;
        Assert.That(new ViridianHarness(timers).Cpuid(0x40000003), Is.EqualTo(new CpuidResult(0x87E, 0, 0, 1u << 17)));
    }

    [Test]
    public void Leaves2And4WaitForTheGuestOsId()
    {
        var v = new ViridianHarness(Xsa472Groups);
        Assert.That(v.Cpuid(0x40000002), Is.EqualTo(default(CpuidResult)));
        Assert.That(v.Cpuid(0x40000004), Is.EqualTo(default(CpuidResult)));

        // A Linux-style id with os (bits 47:40) 3: leaf 2 answers, leaf 4 still needs os >= 4.
        Assert.That(v.Wrmsr(ViridianMsr.GuestOsId, 0x8100_0300_0000_0000), Is.Null);
        Assert.That(v.Cpuid(0x40000002), Is.EqualTo(new CpuidResult(0x1772, 0x60000, 0, 0)));
        Assert.That(v.Cpuid(0x40000004), Is.EqualTo(default(CpuidResult)));

        // os 4: RELAX_TIMER_INT (5) and, with no APIC-register virtualisation on the host, MSR_BASED_APIC (3).
        Assert.That(v.Wrmsr(ViridianMsr.GuestOsId, 0x0001_0400_0000_0000), Is.Null);
        Assert.That(v.Cpuid(0x40000004), Is.EqualTo(new CpuidResult(0x28, 2047, 0, 0)));
    }

    [TestCase(true, 0xBu, TestName = "Leaf 6 with HAP: APIC overlay, MSR bitmaps, nested paging")]
    [TestCase(false, 0x3u, TestName = "Leaf 6 with shadow paging: no nested paging")]
    public void Leaf6(bool hap, uint eax) =>
        Assert.That(new ViridianHarness(Xsa472Groups, hap).Cpuid(0x40000006), Is.EqualTo(new CpuidResult(eax, 0, 0, 0)));
}
