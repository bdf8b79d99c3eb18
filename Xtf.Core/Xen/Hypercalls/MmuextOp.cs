using System.Buffers.Binary;
using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_mmuext_op(uops, count, pdone, foreigndom) (public/xen.h; xen/arch/x86/mm.c
/// do_mmuext_op, compat_mmuext_op for 32-bit callers). struct mmuext_op { unsigned int cmd;
/// union { xen_pfn_t mfn; unsigned long linear_addr; } arg1; union { unsigned int nr_ents;
/// const void *vcpumask; xen_pfn_t src_mfn; } arg2; }: native 24 bytes (cmd at 0, arg1 at 8,
/// arg2 at 16), compat 12 bytes (4 + 4 + 4). Operations run in order and stop at the first
/// failure; *pdone receives the number done, as for mmu_update.
/// </summary>
internal static class MmuextOp
{
    public static long Call(IHypercallContext ctx, PvMemoryManager mm, HypercallArgs a)
    {
        bool native = ctx.Is64Bit;
        ulong uops = native ? a.A1 : (uint)a.A1;
        uint count = (uint)a.A2;
        ulong pdone = native ? a.A3 : (uint)a.A3;
        uint foreigndom = (uint)a.A4;
        uint done = 0;

        if (count == MmuCommand.UpdatePreempted && uops == 0)
            return (int)foreigndom;
        if ((count & MmuCommand.UpdatePreempted) != 0)
        {
            count &= ~MmuCommand.UpdatePreempted;
            if (pdone != 0 && !ctx.Guest.TryReadUInt32(pdone, out done))
                done = 0;
        }

        if (native && !PvLayout.AddressOk64(uops))
            return -XenErrno.EFAULT;

        // get_pg_owner (-ESRCH), then xsm_mmuext_op(XSM_TARGET): only the caller itself.
        var owner = MmuUpdate.PageOwnerOf(ctx, (ushort)foreigndom);
        if (owner is null)
            return -XenErrno.ESRCH;
        if (owner != MmuUpdate.PageOwner.Self)
            return -XenErrno.EPERM;

        int size = native ? 24 : 12;
        Span<byte> op = stackalloc byte[24];
        op = op[..size];
        long rc = 0;
        uint i = 0;
        for (; i < count; i++)
        {
            // hypercall_preempt_check between operations: -ERESTART, continued below.
            if (i > 0 && ctx.Preemption.Check())
            {
                rc = -XenErrno.ERESTART;
                break;
            }

            ulong address = uops + ((ulong)i * (ulong)size);
            if (!ctx.Guest.TryRead(native ? address : address & 0xFFFF_FFFF, op))
            {
                rc = -XenErrno.EFAULT;
                break;
            }

            uint cmd = BinaryPrimitives.ReadUInt32LittleEndian(op);
            ulong arg1 = native ? BinaryPrimitives.ReadUInt64LittleEndian(op[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(op[4..]);
            ulong arg2 = native ? BinaryPrimitives.ReadUInt64LittleEndian(op[16..]) : BinaryPrimitives.ReadUInt32LittleEndian(op[8..]);
            rc = One(ctx, mm, cmd, arg1, arg2);
            if (rc != 0)
                break;
        }

        // The operations not done yet, with MMU_UPDATE_PREEMPTED so the continuation reads pdone back.
        if (rc == -XenErrno.ERESTART)
            rc = ctx.Preemption.CreateContinuation(HypercallNumber.MmuextOp, uops + ((ulong)i * (ulong)size), (count - i) | MmuCommand.UpdatePreempted, pdone, foreigndom);

        if (pdone != 0)
        {
            Span<byte> d = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(d, done + i);
            ctx.Guest.TryWrite(pdone, d);
        }

        return rc;
    }

    private static int One(IHypercallContext ctx, PvMemoryManager mm, uint cmd, ulong arg1, ulong arg2)
    {
        bool compat = !ctx.Is64Bit;
        switch (cmd)
        {
            case MmuextCommand.PinL1Table:
                return mm.Pin(arg1, PageType.L1);
            case MmuextCommand.PinL2Table:
                return mm.Pin(arg1, PageType.L2);
            case MmuextCommand.PinL3Table:
                return mm.Pin(arg1, PageType.L3);
            case MmuextCommand.PinL4Table:
                // A pv32 guest has no L4 of its own: the pin is ignored.
                return compat ? 0 : mm.Pin(arg1, PageType.L4);
            case MmuextCommand.UnpinTable:
                return mm.Unpin(arg1);
            case MmuextCommand.NewBaseptr:
                return mm.NewBaseptr(arg1);
            case MmuextCommand.NewUserBaseptr:
                return mm.NewUserBaseptr(arg1);
            case MmuextCommand.TlbFlushLocal or MmuextCommand.TlbFlushAll:
                mm.FlushTlb();
                return 0;
            case MmuextCommand.InvlpgLocal:
                mm.InvalidatePage(arg1);
                return 0;
            case MmuextCommand.InvlpgAll:
                if (AddressOk(ctx, arg1))
                    mm.InvalidatePage(arg1);
                return 0;
            case MmuextCommand.TlbFlushMulti or MmuextCommand.InvlpgMulti:
                {
                    // vcpumask_to_pcpumask failing is -EINVAL here (update_va_mapping returns its -EFAULT).
                    if (VcpuMask.ReadBitmap(ctx, arg2, out bool us) != 0)
                        return -XenErrno.EINVAL;
                    if (us && cmd == MmuextCommand.TlbFlushMulti)
                        mm.FlushTlb();
                    else if (us && AddressOk(ctx, arg1))
                        mm.InvalidatePage(arg1);
                    return 0;
                }

            case MmuextCommand.FlushCache:
                // cache_flush_permitted: a domain without I/O resources may not WBINVD.
                return -MmuErrno.EACCES;
            case MmuextCommand.FlushCacheGlobal:
                return -XenErrno.EINVAL;
            case MmuextCommand.SetLdt:
                return SetLdt(ctx, mm, arg1, (uint)arg2);
            case MmuextCommand.ClearPage:
                return ClearPage(mm, arg1);
            case MmuextCommand.CopyPage:
                return CopyPage(mm, arg1, arg2);
            case MmuextCommand.MarkSuper or MmuextCommand.UnmarkSuper:
                return -MmuErrno.EOPNOTSUPP;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>__addr_ok: compat addresses are 32-bit and always in the guest's range.</summary>
    private static bool AddressOk(IHypercallContext ctx, ulong linear) => !ctx.Is64Bit || PvLayout.AddressOk64(linear);

    /// <summary>MMUEXT_SET_LDT: at most 8192 entries, and a page-aligned base in the guest's range, or -EINVAL.</summary>
    private static int SetLdt(IHypercallContext ctx, PvMemoryManager mm, ulong linear, uint entries)
    {
        if (entries > 8192 || (entries != 0 && ((linear & 0xFFF) != 0 || !AddressOk(ctx, linear))))
            return -XenErrno.EINVAL;
        mm.Context.SetLdt(entries == 0 ? 0 : linear, entries);
        return 0;
    }

    /// <summary>MMUEXT_CLEAR_PAGE: the frame must be the guest's and able to take a writable type, else -EINVAL.</summary>
    private static int ClearPage(PvMemoryManager mm, ulong mfn)
    {
        if (!mm.Frames.IsGuests(mfn) || mm.GetPageType(mfn, PageType.Writable) != 0)
            return -XenErrno.EINVAL;
        var cpu = mm.Context.Cpu;
        for (ulong offset = 0; offset < 4096; offset += 8)
            cpu.WritePhysical((mfn << 12) + offset, 8, 0);
        mm.PutPageType(mfn);
        return 0;
    }

    /// <summary>MMUEXT_COPY_PAGE: src (arg2) must be the guest's; dst (arg1) the guest's and writable-typable; else -EINVAL.</summary>
    private static int CopyPage(PvMemoryManager mm, ulong dst, ulong src)
    {
        if (!mm.Frames.IsGuests(src) || !mm.Frames.IsGuests(dst) || mm.GetPageType(dst, PageType.Writable) != 0)
            return -XenErrno.EINVAL;
        var cpu = mm.Context.Cpu;
        for (ulong offset = 0; offset < 4096; offset += 8)
            cpu.WritePhysical((dst << 12) + offset, 8, cpu.ReadPhysical((src << 12) + offset, 8));
        mm.PutPageType(dst);
        return 0;
    }
}
