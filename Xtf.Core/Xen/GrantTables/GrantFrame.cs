using Xtf.Core.Machine;

namespace Xtf.Core.Xen.GrantTables;

/// <summary>
/// One page of a domain's grant table (a shared frame or a v2 status frame), a Xen heap page.
/// It lives either in machine memory (PV: a hypervisor frame shared with the guest, which the
/// guest maps by its mfn; HVM: once add_to_physmap placed it at a guest frame) or, for an HVM
/// frame not placed yet, only in the hypervisor (no guest address reaches it).
/// </summary>
public sealed class GrantFrame
{
    private byte[]? unplaced;

    private GrantFrame(ulong? address, byte[]? unplaced)
    {
        Address = address;
        this.unplaced = unplaced;
    }

    /// <summary>A frame at machine frame <paramref name="mfn"/> (zeroed by its allocator).</summary>
    public static GrantFrame AtMachineFrame(ulong mfn) => new(mfn << 12, null);

    /// <summary>A zeroed frame with no guest address yet (HVM).</summary>
    public static GrantFrame Unplaced() => new(null, new byte[PhysicalMemory.FrameSize]);

    /// <summary>The physical address of the page, or null while it has none.</summary>
    public ulong? Address { get; private set; }

    /// <summary>The frame number the guest knows the page by (gnttab_shared_gfn / gnttab_status_gfn), or INVALID_GFN (~0) while it has none.</summary>
    public ulong Gfn => Address is { } a ? a >> 12 : ulong.MaxValue;

    /// <summary>Reads <paramref name="data"/> from byte <paramref name="offset"/> of the page.</summary>
    public void Read(PhysicalMemory memory, int offset, Span<byte> data)
    {
        if (Address is { } a)
            memory.Read(a + (ulong)offset, data);
        else
            unplaced.AsSpan(offset, data.Length).CopyTo(data);
    }

    /// <summary>Writes <paramref name="data"/> at byte <paramref name="offset"/> of the page.</summary>
    public void Write(PhysicalMemory memory, int offset, ReadOnlySpan<byte> data)
    {
        if (Address is { } a)
            memory.Write(a + (ulong)offset, data);
        else
            data.CopyTo(unplaced.AsSpan(offset));
    }

    /// <summary>clear_page.</summary>
    public void Clear(PhysicalMemory memory) => Write(memory, 0, new byte[PhysicalMemory.FrameSize]);

    /// <summary>
    /// guest_physmap_add_page of the page at guest frame <paramref name="gfn"/> (HVM
    /// add_to_physmap): the page's contents now appear there; a former guest frame of it no
    /// longer is the page (it keeps what it held, as plain RAM).
    /// </summary>
    public void Place(PhysicalMemory memory, ulong gfn)
    {
        var contents = new byte[PhysicalMemory.FrameSize];
        Read(memory, 0, contents);
        Address = gfn << 12;
        unplaced = null;
        memory.Write(gfn << 12, contents);
    }
}

/// <summary>Where a domain's grant-table pages come from (alloc_xenheap_page, share_xen_page_with_guest, and their release).</summary>
public interface IGrantFrameSource
{
    /// <summary>A new zeroed page shared with the guest, or null when the hypervisor has no page left (-ENOMEM).</summary>
    GrantFrame? Allocate();

    /// <summary>
    /// gnttab_unpopulate_status_frames for one page: put_page_alloc_ref, then the page may be
    /// freed only if nothing else holds a reference (count_info); otherwise it stays shared and
    /// this returns false (-EBUSY).
    /// </summary>
    bool TryRelease(GrantFrame frame);
}

/// <summary>An HVM domain's pages: hypervisor pages with no guest address until add_to_physmap places them; released without a reference check (nothing but the p2m can refer to them here).</summary>
public sealed class UnplacedGrantFrames : IGrantFrameSource
{
    /// <inheritdoc/>
    public GrantFrame? Allocate() => GrantFrame.Unplaced();

    /// <inheritdoc/>
    public bool TryRelease(GrantFrame frame) => true;
}
