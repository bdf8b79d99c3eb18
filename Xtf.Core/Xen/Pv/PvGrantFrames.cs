using Xtf.Core.Xen.GrantTables;
using Xtf.Core.Xen.Pv.Builder;
using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Core.Xen.Pv;

/// <summary>
/// A PV domain's grant-table pages: alloc_xenheap_page from the hypervisor's frames, then
/// share_xen_page_with_guest(SHARE_rw), so setup_table and get_status_frames hand out their mfns
/// and the guest maps them with update_va_mapping. Released only when no L1 entry maps them.
/// </summary>
internal sealed class PvGrantFrames(XenFrames frames, FrameTable table) : IGrantFrameSource
{
    /// <inheritdoc/>
    public GrantFrame? Allocate()
    {
        if (frames.End >= frames.First + XenFrames.Reserved || frames.End >= table.FrameCount)
            return null;
        ulong mfn = frames.Allocate();
        table.ShareWithGuest(mfn);
        return GrantFrame.AtMachineFrame(mfn);
    }

    /// <inheritdoc/>
    public bool TryRelease(GrantFrame frame) => frame.Address is { } a && table.TryUnshare(a >> 12);
}
