using System.Buffers.Binary;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Viridian;

/// <summary>
/// Partition reference time (xen/arch/x86/hvm/viridian/time.c): a 100 ns counter derived from the
/// guest's TSC, read through HV_X64_MSR_TIME_REF_COUNT or computed by the guest from the reference
/// TSC page (HV_REFERENCE_TSC_PAGE, xen/arch/x86/include/asm/guest/hyperv-tlfs.h: uint32_t
/// tsc_sequence @0, uint32_t res1 @4, uint64_t tsc_scale @8, int64_t tsc_offset @16).
/// </summary>
public static class ReferenceTsc
{
    /// <summary>
    /// d->arch.tsc_khz for our domains. The machine's TSC advances once per retired instruction;
    /// the hypervisor calls that 1 GHz (one instruction a nanosecond). Xen takes the host's rate.
    /// </summary>
    public const ulong TscKhz = 1_000_000;

    /// <summary>APIC_BUS_CYCLE_NS (xen/arch/x86/include/asm/hvm/vlapic.h): 10 ns, so HV_X64_MSR_APIC_FREQUENCY reads 10^9 / 10.</summary>
    public const ulong ApicBusCycleNs = 10;

    /// <summary>Offsets in HV_REFERENCE_TSC_PAGE.</summary>
    public const int SequenceOffset = 0, ScaleOffset = 8, OffsetOffset = 16;

    /// <summary>"((10000UL &lt;&lt; 32) / d-&gt;arch.tsc_khz) &lt;&lt; 32": TSC ticks per 100 ns as a 64.64 fraction.</summary>
    public static ulong Scale => ((10000ul << 32) / TscKhz) << 32;

    /// <summary>hv_scale_tsc (asm/guest/hyperv.h): the high 64 bits of tsc * scale, plus the offset.</summary>
    public static ulong ScaleTsc(ulong tsc, ulong scale, long offset) => (ulong)(((UInt128)tsc * scale) >> 64) + (ulong)offset;

    /// <summary>
    /// update_reference_tsc with initialize: the page cleared, then tsc_scale and tsc_offset
    /// (trc-&gt;off), then tsc_sequence, which was 0 after the clear, becomes 1 (0 is "invalid").
    /// The host is taken to have a reliable TSC and vtsc is off (default tsc_mode on a host whose
    /// guest and host rates agree), so the page is not invalidated. Nothing is written when the
    /// page is not mapped: the check that XSA-472 added ("Reference TSC page might not be mapped
    /// even if the MSR is enabled").
    /// </summary>
    public static void Initialize(ViridianPage page, long offset)
    {
        if (page.Mapped is null)
            return;
        var p = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(ScaleOffset), Scale);
        BinaryPrimitives.WriteInt64LittleEndian(p.AsSpan(OffsetOffset), offset);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(SequenceOffset), 1);
        page.Write(0, new byte[PhysicalMemory.FrameSize]);
        page.Write(0, p);
    }
}
