using System.Buffers.Binary;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_mmu_update(reqs, count, pdone, foreigndom) (public/xen.h; xen/arch/x86/mm.c
/// do_mmu_update, used by native and compat callers alike: struct mmu_update { uint64_t ptr, val; }
/// is 16 bytes in both ABIs). Requests run in order and the batch stops at the first failure,
/// whose error is returned; *pdone, when given, receives the number that succeeded (a fault
/// writing it is ignored, as Xen ignores it). The low 3 bits of ptr are the command.
/// foreigndom: bits 0-15 name the owner of the frames mapped (DOMID_SELF normally), bits 16-31
/// the owner of the page tables plus one (0: the caller).
/// </summary>
internal static class MmuUpdate
{
    private const int RequestSize = 16;

    /// <summary>Whose frames a request may map (get_pg_owner).</summary>
    internal enum PageOwner
    {
        Self,

        /// <summary>DOMID_IO: MMIO; the XSM check admits it, the frame checks then refuse RAM.</summary>
        Io,

        /// <summary>Another existing domain (dom0, DOMID_XEN): the dummy XSM policy refuses an unprivileged caller (-EPERM).</summary>
        Other,
    }

    public static long Call(IHypercallContext ctx, PvMemoryManager mm, HypercallArgs a)
    {
        bool native = ctx.Is64Bit;
        ulong reqs = native ? a.A1 : (uint)a.A1;
        uint count = (uint)a.A2;
        ulong pdone = native ? a.A3 : (uint)a.A3;
        uint foreigndom = (uint)a.A4;
        uint done = 0;

        // The continuation that only carries a final return value in foreigndom.
        if (count == MmuCommand.UpdatePreempted && reqs == 0)
            return (int)foreigndom;
        if ((count & MmuCommand.UpdatePreempted) != 0)
        {
            count &= ~MmuCommand.UpdatePreempted;
            if (pdone != 0 && !ctx.Guest.TryReadUInt32(pdone, out done))
                done = 0;
        }

        // guest_handle_okay: the array must start in the guest's part of the address space.
        if (native && !PvLayout.AddressOk64(reqs))
            return -XenErrno.EFAULT;

        // Page tables of a foreign domain (pt_dom - 1): only ourselves or dom0 exist.
        bool foreignTables = false;
        uint ptDom = foreigndom >> 16;
        if (ptDom != 0)
        {
            ushort id = (ushort)(ptDom - 1);
            if (id == DomainId.Dom0)
                foreignTables = true;
            else if (ptDom - 1 != ctx.Domain.Id)
                return -XenErrno.ESRCH;
        }

        long rc = 0;
        uint i = 0;
        var owner = PageOwnerOf(ctx, (ushort)foreigndom);
        if (owner is null)
        {
            rc = -XenErrno.ESRCH;
        }
        else
        {
            bool upperLevelChanged = false;
            Span<byte> req = stackalloc byte[RequestSize];
            for (; i < count; i++)
            {
                // hypercall_preempt_check between requests: -ERESTART, continued below.
                if (i > 0 && ctx.Preemption.Check())
                {
                    rc = -XenErrno.ERESTART;
                    break;
                }

                ulong address = reqs + ((ulong)i * RequestSize);
                if (!ctx.Guest.TryRead(native ? address : address & 0xFFFF_FFFF, req))
                {
                    rc = -XenErrno.EFAULT;
                    break;
                }

                ulong ptr = BinaryPrimitives.ReadUInt64LittleEndian(req);
                ulong val = BinaryPrimitives.ReadUInt64LittleEndian(req[8..]);
                rc = One(ctx, mm, ptr, val, owner.Value, foreignTables, ref upperLevelChanged);
                if (rc != 0)
                    break;
            }

            // flush_linear_pt: a changed L2-L4 entry flushes the TLB before returning, whatever followed.
            if (upperLevelChanged)
                mm.FlushTlb();
        }

        // The requests not done yet, with MMU_UPDATE_PREEMPTED so the continuation reads pdone back.
        if (rc == -XenErrno.ERESTART)
            rc = ctx.Preemption.CreateContinuation(HypercallNumber.MmuUpdate, reqs + ((ulong)i * RequestSize), (count - i) | MmuCommand.UpdatePreempted, pdone, foreigndom);

        if (pdone != 0)
        {
            Span<byte> d = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(d, done + i);
            ctx.Guest.TryWrite(native ? pdone : pdone & 0xFFFF_FFFF, d);
        }

        return rc;
    }

    private static int One(IHypercallContext ctx, PvMemoryManager mm, ulong ptr, ulong val, PageOwner owner, bool foreignTables, ref bool upperLevelChanged)
    {
        int cmd = (int)(ptr & 7);
        switch (cmd)
        {
            case MmuCommand.NormalPtUpdate or MmuCommand.PtUpdatePreserveAd or MmuCommand.PtUpdateNoTranslate:
                // xsm_mmu_update(XSM_TARGET, d, pt_owner, pg_owner): DOMID_IO passes, any other domain does not.
                if (owner == PageOwner.Other || foreignTables)
                    return -XenErrno.EPERM;
                return mm.UpdateEntry(ptr - (ulong)cmd, val, cmd == MmuCommand.PtUpdatePreserveAd, owner == PageOwner.Io, ref upperLevelChanged);

            case MmuCommand.MachphysUpdate:
                if (foreignTables || owner == PageOwner.Other)
                    return -XenErrno.EPERM;
                ulong mfn = ptr >> 12;

                // get_page_from_mfn(mfn, pg_owner): DOMID_IO owns none of our frames.
                if (owner == PageOwner.Io || !mm.Frames.IsGuests(mfn))
                    return -XenErrno.EINVAL;
                mm.Context.SetM2pEntry(mfn, val);
                return 0;

            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>
    /// get_pg_owner: DOMID_SELF is the caller; naming our own id explicitly is refused ("Cannot
    /// specify itself as foreign domain"), as is a domain that does not exist (null: -ESRCH).
    /// </summary>
    internal static PageOwner? PageOwnerOf(IHypercallContext ctx, ushort domid) => domid switch
    {
        ReservedDomainId.Self => PageOwner.Self,
        ReservedDomainId.Io => PageOwner.Io,
        ReservedDomainId.Xen or DomainId.Dom0 when domid != ctx.Domain.Id => PageOwner.Other,
        _ => null,
    };
}
