using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Viridian;

/// <summary>
/// struct viridian_page (xen/arch/x86/include/asm/hvm/viridian.h): a page-address MSR laid out
/// as union hv_vp_assist_page_msr (enabled bit 0, reserved 11:1, pfn bits 59:12), and Xen's
/// mapping of that frame, if it could make one (viridian.c viridian_map_guest_page /
/// viridian_unmap_guest_page).
/// </summary>
public sealed class ViridianPage(PhysicalMemory memory)
{
    /// <summary>The MSR's raw value, kept as written.</summary>
    public ulong Msr { get; set; }

    /// <summary>Bit 0: the page is enabled.</summary>
    public bool Enabled => (Msr & 1) != 0;

    /// <summary>Bits 59:12: the guest frame.</summary>
    public ulong Pfn => (Msr >> 12) & ((1ul << 48) - 1);

    /// <summary>The frame Xen has mapped (vp-&gt;ptr), or null.</summary>
    public ulong? Mapped { get; private set; }

    /// <summary>
    /// viridian_map_guest_page: nothing if already mapped; the frame must be RAM of the domain
    /// (get_page_from_gfn, P2M_ALLOC, then a writable type); a frame that is not (beyond RAM, a
    /// p2m hole) is "Bad GMFN": logged, nothing mapped, the guest sees no error. A mapped page is
    /// cleared (clear_page).
    /// </summary>
    public void Map()
    {
        if (Mapped is not null || !memory.IsPopulated(Pfn))
            return;
        Mapped = Pfn;
        memory.Write(Pfn * PhysicalMemory.FrameSize, new byte[PhysicalMemory.FrameSize]);
    }

    /// <summary>viridian_unmap_guest_page: drops the mapping.</summary>
    public void Unmap() => Mapped = null;

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> of the mapped page; nothing when unmapped.</summary>
    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        if (Mapped is ulong frame && memory.IsPopulated(frame))
            memory.Write((frame * PhysicalMemory.FrameSize) + (ulong)offset, data);
    }
}
