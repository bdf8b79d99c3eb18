using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_update_va_mapping(va, val, flags) and update_va_mapping_otherdomain(va, val,
/// flags, domid) (xen/arch/x86/mm.c __do_update_va_mapping). The L1 entry mapping va in the
/// current tables is changed as mmu_update would (-EINVAL when there is none, or its table is
/// not a validated L1), then the TLB is flushed as flags ask; a flush is done only after a
/// successful update. Compat callers (compat_update_va_mapping) pass the 64-bit entry split in
/// two 32-bit arguments: va, lo, hi, flags[, domid].
/// </summary>
internal static class UpdateVaMapping
{
    public static long Call(IHypercallContext ctx, PvMemoryManager mm, HypercallArgs a) =>
        ctx.Is64Bit
            ? Update(ctx, mm, a.A1, a.A2, a.A3)
            : Update(ctx, mm, (uint)a.A1, (uint)a.A2 | ((ulong)(uint)a.A3 << 32), (uint)a.A4);

    /// <summary>
    /// The other-domain form: get_pg_owner(domid) (-ESRCH for no such domain), then the dummy
    /// XSM policy, which lets an unprivileged caller name only itself (-EPERM).
    /// </summary>
    public static long CallOtherDomain(IHypercallContext ctx, PvMemoryManager mm, HypercallArgs a)
    {
        ushort domid = (ushort)(ctx.Is64Bit ? a.A4 : a.A5);
        var owner = MmuUpdate.PageOwnerOf(ctx, domid);
        if (owner is null)
            return -XenErrno.ESRCH;
        if (owner != MmuUpdate.PageOwner.Self)
            return -XenErrno.EPERM;
        return Call(ctx, mm, a);
    }

    private static long Update(IHypercallContext ctx, PvMemoryManager mm, ulong va, ulong val, ulong flags)
    {
        if (!mm.TryFindL1(va, out ulong l1, out int slot) || !mm.Frames.IsGuests(l1) || mm.Frames.Type(l1) != PageType.L1)
            return -XenErrno.EINVAL;
        int rc = mm.ModL1Entry(l1, slot, val, preserveAd: false, foreignOwner: false);
        if (rc != 0)
            return rc;

        ulong bitmap = flags & ~Uvmf.FlushTypeMask;
        switch (flags & Uvmf.FlushTypeMask)
        {
            case Uvmf.TlbFlush:
                rc = VcpuMask.Read(ctx, bitmap, out bool flush);
                if (flush)
                    mm.FlushTlb();
                break;
            case Uvmf.Invlpg:
                rc = VcpuMask.Read(ctx, bitmap, out bool invalidate);
                if (invalidate)
                    mm.InvalidatePage(va);
                break;
        }

        return rc;
    }
}

/// <summary>
/// The vCPU selection of a flush (UVMF_LOCAL, UVMF_ALL, or a pointer to a bitmap of vCPUs:
/// vcpumask_to_pcpumask, which reads one word, 8 bytes native or 4 compat, for our one vCPU).
/// </summary>
internal static class VcpuMask
{
    /// <summary>0, or -EFAULT when the bitmap cannot be read; <paramref name="includesUs"/>: vCPU 0 is selected.</summary>
    public static int Read(IHypercallContext ctx, ulong selector, out bool includesUs)
    {
        includesUs = true;
        return selector is Uvmf.Local or Uvmf.All ? 0 : ReadBitmap(ctx, selector, out includesUs);
    }

    /// <summary>vcpumask_to_pcpumask: the first word of the bitmap at <paramref name="pointer"/>; -EFAULT when unreadable.</summary>
    public static int ReadBitmap(IHypercallContext ctx, ulong pointer, out bool includesUs)
    {
        ulong selector = pointer;
        Span<byte> word = stackalloc byte[ctx.Is64Bit ? 8 : 4];
        if (!ctx.Guest.TryRead(ctx.Is64Bit ? selector : selector & 0xFFFF_FFFF, word))
        {
            includesUs = false;
            return -XenErrno.EFAULT;
        }

        includesUs = (word[0] & 1) != 0;
        return 0;
    }
}
