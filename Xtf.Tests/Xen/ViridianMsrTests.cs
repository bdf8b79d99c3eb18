using System.Buffers.Binary;
using NUnit.Framework;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Viridian;

namespace Xtf.Tests.Xen;

/// <summary>
/// The viridian MSRs as Xen implements them (xen/arch/x86/msr.c guest_{rd,wr}msr,
/// hvm/viridian/viridian.c, time.c, synic.c): every refusal is X86EMUL_EXCEPTION, #GP(0) to the
/// guest. The reference TSC page follows time.c update_reference_tsc and, since XSA-472, a GFN
/// Xen cannot map is left unmapped without harm.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class ViridianMsrTests
{
    private const int GP = ViridianHarness.GP;
    private const ViridianFeatures Base = ViridianFeatures.BaseFreq | ViridianFeatures.NoFreq;
    private const ViridianFeatures Xsa472Groups = Base | ViridianFeatures.ReferenceTsc;

    /// <summary>A frame of the harness's 1 MiB RAM that nothing else uses.</summary>
    private const ulong FreeFrame = 0x50;

    [Test]
    public void GroupsNotEnabledAreGp()
    {
        var v = new ViridianHarness(Base);
        Assert.That(v.Wrmsr(ViridianMsr.ReferenceTsc, 0), Is.EqualTo(GP), "wrmsr REFERENCE_TSC without reference_tsc");
        Assert.That(v.Rdmsr(ViridianMsr.ReferenceTsc).Fault, Is.EqualTo(GP), "rdmsr REFERENCE_TSC without reference_tsc");
        Assert.That(v.Rdmsr(ViridianMsr.TimeRefCount).Fault, Is.EqualTo(GP), "TIME_REF_COUNT without time_ref_count");
        Assert.That(v.Rdmsr(ViridianMsr.TscFrequency).Fault, Is.EqualTo(GP), "TSC_FREQUENCY with no_freq");
        Assert.That(v.Rdmsr(ViridianMsr.ApicFrequency).Fault, Is.EqualTo(GP), "APIC_FREQUENCY with no_freq");
        Assert.That(v.Rdmsr(ViridianMsr.Scontrol).Fault, Is.EqualTo(GP), "SCONTROL without synic");
        Assert.That(v.Wrmsr(ViridianMsr.Stimer0Config, 0), Is.EqualTo(GP), "STIMER0_CONFIG without stimer");
    }

    [Test]
    public void WithoutViridianTheRangeIsXens()
    {
        var v = new ViridianHarness(ViridianFeatures.None);
        Assert.That(v.Wrmsr(ViridianMsr.ReferenceTsc, ~0ul), Is.EqualTo(GP), "REFERENCE_TSC in a domain without viridian");
        Assert.That(v.Rdmsr(ViridianMsr.Hypercall).Fault, Is.EqualTo(GP));
        // guest_rdmsr_xen: "Write hypercall page MSR.  Read as zero."
        Assert.That(v.Rdmsr(0x40000000), Is.EqualTo((0ul, (int?)null)));
        Assert.That(v.Rdmsr(0x40000200).Fault, Is.EqualTo(GP), "the shifted hypercall MSR is only Xen's in a viridian domain");
    }

    [Test]
    public void BaseMsrs()
    {
        var v = new ViridianHarness(Base);
        Assert.That(v.Wrmsr(ViridianMsr.GuestOsId, 0x8100_0300_1234_5678), Is.Null);
        Assert.That(v.Rdmsr(ViridianMsr.GuestOsId), Is.EqualTo((0x8100_0300_1234_5678ul, (int?)null)));
        Assert.That(v.Rdmsr(ViridianMsr.VpIndex), Is.EqualTo((0ul, (int?)null)), "vCPU 0");
        Assert.That(v.Wrmsr(ViridianMsr.VpIndex, 5), Is.Null, "writes are ignored");
        Assert.That(v.Rdmsr(ViridianMsr.VpIndex).Value, Is.Zero);
        // Unimplemented MSRs of the range (guest_rdmsr_viridian's default), up to 0x400001FF.
        Assert.That(v.Rdmsr(0x40000050).Fault, Is.EqualTo(GP));
        Assert.That(v.Wrmsr(0x400001FF, 0), Is.EqualTo(GP));
        Assert.That(v.Rdmsr(ViridianMsr.Eoi).Fault, Is.EqualTo(GP), "EOI is write-only");
        // Xen's own hypercall MSR moved to 0x40000200: it reads as zero there.
        Assert.That(v.Rdmsr(0x40000200), Is.EqualTo((0ul, (int?)null)));
    }

    [Test]
    public void FrequencyMsrsWithTheFreqGroup()
    {
        var v = new ViridianHarness(ViridianFeatures.BaseFreq);
        // tsc_khz * 1000, and 10^9 / APIC_BUS_CYCLE_NS (10).
        Assert.That(v.Rdmsr(ViridianMsr.TscFrequency), Is.EqualTo((ReferenceTsc.TscKhz * 1000, (int?)null)));
        Assert.That(v.Rdmsr(ViridianMsr.ApicFrequency), Is.EqualTo((100_000_000ul, (int?)null)));
        Assert.That(v.Wrmsr(ViridianMsr.TscFrequency, 1), Is.EqualTo(GP), "read-only");
    }

    [Test]
    public void TimeRefCountScalesTheGuestTsc()
    {
        var v = new ViridianHarness(Base | ViridianFeatures.TimeRefCount);
        Assert.That(v.Wrmsr(0x10, 1_000_000_000), Is.Null, "IA32_TIME_STAMP_COUNTER");
        var (count, fault) = v.Rdmsr(ViridianMsr.TimeRefCount);
        Assert.That(fault, Is.Null);
        // 10^9 ticks at 1 GHz is 10^7 units of 100 ns; the scale rounds down, and a few instructions pass.
        Assert.That(count, Is.InRange(9_999_990ul, 10_000_001ul));
        Assert.That(v.Wrmsr(ViridianMsr.TimeRefCount, 0), Is.EqualTo(GP), "read-only");
    }

    /// <summary>XSA-472: the reference TSC MSR with every bit set names a frame beyond RAM; the write is accepted, nothing is mapped or written, and the value reads back.</summary>
    [TestCase(0xFFFF_FFFFul, TestName = "REFERENCE_TSC = ~0 (32-bit, xsa-472-1) beyond RAM: accepted, unmapped, reads back")]
    [TestCase(ulong.MaxValue, TestName = "REFERENCE_TSC = ~0 (64-bit) beyond RAM: accepted, unmapped, reads back")]
    public void ReferenceTscBeyondRam(ulong value)
    {
        var v = new ViridianHarness(Xsa472Groups);
        Assert.That(v.Wrmsr(ViridianMsr.ReferenceTsc, value), Is.Null);
        Assert.That(v.Rdmsr(ViridianMsr.ReferenceTsc), Is.EqualTo((value, (int?)null)));
        Assert.That(v.Domain.Viridian.ReferenceTscPage.Mapped, Is.Null);
    }

    [Test]
    public void ReferenceTscPageContent()
    {
        var v = new ViridianHarness(Xsa472Groups);
        ulong gpa = FreeFrame << 12;
        v.H.Vm.Memory.Write(gpa, Enumerable.Repeat((byte)0xA5, 4096).ToArray());
        Assert.That(v.Wrmsr(ViridianMsr.ReferenceTsc, gpa | 1), Is.Null);
        var page = v.Read(gpa, 4096);
        // HV_REFERENCE_TSC_PAGE: tsc_sequence 1 (0 after clear_page, then + 1), res1 0,
        // tsc_scale ((10000 << 32) / tsc_khz) << 32, tsc_offset trc->off = 0; the rest cleared.
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(page), Is.EqualTo(1u));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(4)), Is.Zero);
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(8)), Is.EqualTo(((10000ul << 32) / ReferenceTsc.TscKhz) << 32));
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(8)), Is.EqualTo(0x028F5C28_00000000ul), "at 1 GHz");
        Assert.That(BinaryPrimitives.ReadInt64LittleEndian(page.AsSpan(16)), Is.Zero);
        Assert.That(page.Skip(24).All(b => b == 0), "clear_page");
        Assert.That(v.Rdmsr(ViridianMsr.ReferenceTsc).Value, Is.EqualTo(gpa | 1));

        // Disabling unmaps and leaves the page as it was; enabling again starts over at sequence 1.
        page[0] = 7;
        v.H.Vm.Memory.Write(gpa, page.AsSpan(0, 1));
        Assert.That(v.Wrmsr(ViridianMsr.ReferenceTsc, gpa), Is.Null);
        Assert.That(v.Domain.Viridian.ReferenceTscPage.Mapped, Is.Null);
        Assert.That(v.Read(gpa, 1)[0], Is.EqualTo(7));
        Assert.That(v.Wrmsr(ViridianMsr.ReferenceTsc, gpa | 1), Is.Null);
        Assert.That(v.Read(gpa, 1)[0], Is.EqualTo(1));
    }

    [Test]
    public void HypercallPage()
    {
        var v = new ViridianHarness(Base);
        ulong gpa = FreeFrame << 12;
        Assert.That(v.Wrmsr(ViridianMsr.Hypercall, gpa | 1), Is.Null);
        // enable_hypercall_page: orl $0x80000000, %eax; vmcall; ret; then int3 to the end.
        var page = v.Read(gpa, 4096);
        Assert.That(page.Take(9), Is.EqualTo(new byte[] { 0x0D, 0x00, 0x00, 0x00, 0x80, 0x0F, 0x01, 0xC1, 0xC3 }));
        Assert.That(page.Skip(9).All(b => b == 0xCC));
        Assert.That(v.Rdmsr(ViridianMsr.Hypercall).Value, Is.EqualTo(gpa | 1));
        Assert.That(v.Wrmsr(ViridianMsr.Hypercall, ~0ul), Is.Null, "a bad GMFN is logged, not refused");
        Assert.That(v.Rdmsr(ViridianMsr.Hypercall).Value, Is.EqualTo(~0ul));
    }

    [Test]
    public void XensHypercallMsrMovesTo0x40000200()
    {
        var v = new ViridianHarness(Base);
        ulong gpa = FreeFrame << 12;
        Assert.That(v.Wrmsr(0x40000200, gpa), Is.Null);
        // Xen's page: slot 0 is "mov $0, %eax; vmcall; ret" (B8 imm32 0F 01 C1 C3).
        Assert.That(v.Read(gpa, 8), Is.EqualTo(new byte[] { 0xB8, 0, 0, 0, 0, 0x0F, 0x01, 0xC1 }));
    }

    [Test]
    public void CrashMsrs()
    {
        var v = new ViridianHarness(Base);
        Assert.That(v.Wrmsr(ViridianMsr.CrashP0 + 4, 0x1234), Is.Null);
        Assert.That(v.Rdmsr(ViridianMsr.CrashP0 + 4).Value, Is.EqualTo(0x1234ul));
        Assert.That(v.Rdmsr(ViridianMsr.CrashCtl).Value, Is.EqualTo(1ul << 63), "CrashNotify is offered");
        Assert.That(v.Wrmsr(ViridianMsr.CrashCtl, 0), Is.Null);
        Assert.That(v.Domain.ShutdownCode, Is.Null);
        Assert.That(v.Wrmsr(ViridianMsr.CrashCtl, 1ul << 63), Is.Null);
        Assert.That(v.Domain.ShutdownCode, Is.EqualTo(ShutdownReason.Crash), "d->shutdown_code = SHUTDOWN_crash");
    }

    [Test]
    public void SynicMsrs()
    {
        var v = new ViridianHarness(Base | ViridianFeatures.Synic);
        Assert.That(v.Rdmsr(ViridianMsr.Sint0 + 3).Value, Is.EqualTo(1ul << 16), "SINTs start masked");
        Assert.That(v.Wrmsr(ViridianMsr.Sint0 + 3, 0x0F), Is.EqualTo(GP), "vector below 0x10");
        Assert.That(v.Wrmsr(ViridianMsr.Sint0 + 3, 0x30), Is.Null);
        Assert.That(v.Rdmsr(ViridianMsr.Sint0 + 3).Value, Is.EqualTo(0x30ul));
        Assert.That(v.Rdmsr(ViridianMsr.Sversion).Value, Is.EqualTo(1ul));
        Assert.That(v.Wrmsr(ViridianMsr.Sversion, 1), Is.EqualTo(GP), "read-only");
        Assert.That(v.Rdmsr(ViridianMsr.Eom), Is.EqualTo((0ul, (int?)null)));
    }

    [Test]
    public void StimerConfigCannotEnableWithoutSintOrCount()
    {
        var v = new ViridianHarness(Base | ViridianFeatures.TimeRefCount | ViridianFeatures.Synic | ViridianFeatures.Stimer);
        // xsa-472-2's sequence: COUNT = 1, then CONFIG = SINTx 1 | enable.
        Assert.That(v.Wrmsr(ViridianMsr.Stimer0Config, 1), Is.Null);
        Assert.That(v.Rdmsr(ViridianMsr.Stimer0Config).Value, Is.Zero, "no SINTx, no count: enable cleared");
        Assert.That(v.Wrmsr(ViridianMsr.Stimer0Config + 1, 1), Is.Null);
        Assert.That(v.Wrmsr(ViridianMsr.Stimer0Config, (1ul << 16) | 1), Is.Null);
        Assert.That(v.Rdmsr(ViridianMsr.Stimer0Config).Value, Is.EqualTo((1ul << 16) | 1));
        Assert.That(v.Wrmsr(ViridianMsr.Stimer0Config + 1, 0), Is.Null);
        Assert.That(v.Rdmsr(ViridianMsr.Stimer0Config).Value, Is.EqualTo(1ul << 16), "count 0 disables");
    }

    [Test]
    public void SetViridianChecksTheMask()
    {
        var d = new ViridianHarness(ViridianFeatures.None).Domain;
        Assert.That(d.SetViridian(ViridianFeatures.ReferenceTsc), Is.EqualTo(-XenErrno.EINVAL), "no base group");
        Assert.That(d.SetViridian((ViridianFeatures)(1ul << 13)), Is.EqualTo(-XenErrno.EINVAL), "outside HVMPV_feature_mask");
        Assert.That(d.SetViridian(Base), Is.Zero);
        Assert.That(d.SetViridian(Xsa472Groups), Is.EqualTo(-XenErrno.EEXIST), "changed only once");
    }
}
