using Xtf.Core.Xen.Pv;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// guest_handle_okay / access_ok: whether a guest buffer lies in guest space. A pv64 buffer
/// must not reach into Xen's part of the address space (__addr_ok: below 2^47 or from
/// HYPERVISOR_VIRT_END up); a compat PV buffer must end at or below the compat hypervisor start;
/// an HVM guest's buffers are checked only when copied.
/// </summary>
internal static class GuestHandle
{
    public static bool Okay(IHypercallContext ctx, ulong address, ulong bytes)
    {
        if (ctx.IsHvm || bytes == 0)
            return true;
        ulong end = address + bytes;
        if (end < address)
            return false;
        if (!ctx.Is64Bit)
            return end <= PvAbi.HypervisorVirtStartCompat;
        return end <= 1ul << 47 || address >= PvAbi.HypervisorVirtEnd64;
    }
}
