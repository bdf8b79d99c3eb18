using System.Buffers.Binary;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_multicall(call_list, nr_calls) (public/xen.h, xen/common/multicall.c do_multicall,
/// xen/common/compat/multicall.c for 32-bit callers). Each entry is copied from the guest,
/// dispatched through <see cref="HypercallTable"/>, and its <c>result</c> field alone is copied
/// back. Entry layouts (struct multicall_entry { xen_ulong_t op, result; xen_ulong_t args[6]; }):
/// native (64-bit caller) 64 bytes, op at 0, result at 8, args at 16 + 8i; compat (32-bit caller)
/// 32 bytes, op at 0, result at 4, args at 8 + 4i.
/// </summary>
internal static class Multicall
{
    /// <summary>enum mc_disposition (xen/include/xen/multicall.h).</summary>
    internal enum Disposition
    {
        /// <summary>mc_continue: go on with the next entry.</summary>
        Continue,

        /// <summary>mc_exit: stop the batch; the entry's result becomes the multicall's return value.</summary>
        Exit,

        /// <summary>mc_preempt: stop the batch and resume it later (the guest left kernel mode).</summary>
        Preempt,
    }

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        ulong list = a.A1;
        uint nrCalls = (uint)a.A2;
        var preemption = ctx.Preemption;

        // do_multicall: "Multicall reentry is disallowed." A multicall entry inside a batch
        // reaches this with the flag set and gets -EINVAL as its result; the batch goes on.
        if (preemption.InMulticall)
            return -XenErrno.EINVAL;
        preemption.InMulticall = true;
        long rc;
        uint done;
        try
        {
            rc = Run(ctx, list, nrCalls, out done);
        }
        finally
        {
            preemption.InMulticall = false;
        }

        // preempted: hypercall_create_continuation(__HYPERVISOR_multicall, "hi", call_list, nr_calls - i),
        // call_list advanced past the entries done.
        if (rc == Preempted)
        {
            int size = ctx.Is64Bit ? NativeEntrySize : CompatEntrySize;
            return preemption.CreateContinuation(HypercallNumber.Multicall, list + ((ulong)done * (ulong)size), nrCalls - done);
        }

        return rc;
    }

    private const int NativeEntrySize = 64, CompatEntrySize = 32;

    /// <summary>Run's verdict for "goto preempted"; never a hypercall result (results are 0 or negated errno values).</summary>
    private const long Preempted = long.MinValue;

    /// <summary>
    /// The loop of do_multicall. guest_handle_okay() is always true for an HVM (paging mode
    /// external) caller, so a bad list is found by the copy of the entry that faults: -EFAULT,
    /// with the entries before it done. nr_calls 0 returns 0 and touches nothing. Between
    /// entries the preemption check may stop the batch; an entry that itself created a
    /// continuation is copied back with its new op and args, and the batch stops at it.
    /// <paramref name="done"/> is the number of entries finished.
    /// </summary>
    private static long Run(IHypercallContext ctx, ulong list, uint nrCalls, out uint done)
    {
        bool native = ctx.Is64Bit;
        int size = native ? NativeEntrySize : CompatEntrySize;
        Span<byte> entry = stackalloc byte[NativeEntrySize];
        entry = entry[..size];
        var preemption = ctx.Preemption;
        for (done = 0; done < nrCalls; done++)
        {
            if (done > 0 && preemption.Check())
                return Preempted;
            ulong address = list + ((ulong)done * (ulong)size);
            if (!native)
                address &= 0xFFFFFFFF;
            if (!ctx.Guest.TryRead(address, entry))
                return -XenErrno.EFAULT;

            ulong op = native ? BinaryPrimitives.ReadUInt64LittleEndian(entry) : BinaryPrimitives.ReadUInt32LittleEndian(entry);
            preemption.Begin();
            long result = Dispatch(ctx, op, native ? NativeArgs(entry) : CompatArgs(entry));

            // __copy_field_to_guest(call_list, &mcs->call, result): the compat field is 32 bits.
            bool written = native
                ? ctx.Guest.TryWrite(address + 8, BitConverter.GetBytes(result))
                : ctx.Guest.TryWrite(address + 4, BitConverter.GetBytes((int)result));

            var disposition = AfterCall(ctx, op);
            if (disposition == Disposition.Exit)
                return native ? result : (int)result;
            if (!written)
                return -XenErrno.EFAULT;
            if (preemption.Preempted)
            {
                // The sub-call's continuation, translated to the guest's layout (xlat_multicall_entry),
                // replaces the entry; the batch resumes at it. A failed copy cancels it: -EFAULT.
                WriteContinuation(entry, native, preemption);

                // The sub-call's continuation is spent either way: copied into the entry, or
                // cancelled (hypercall_cancel_continuation) when the copy fails.
                preemption.Begin();
                return ctx.Guest.TryWrite(address, entry) ? Preempted : -XenErrno.EFAULT;
            }

            if (disposition == Disposition.Preempt)
            {
                // Xen resumes a preempted batch by a continuation at entry i + 1 once the guest is
                // back in kernel mode; only an iret leaves kernel mode here, and that entry exits
                // the batch first, so the rest of the batch is simply not run.
                return 0;
            }
        }

        return 0;
    }

    /// <summary>mcs->call after hypercall_create_continuation inside a multicall: op, result = op, args.</summary>
    private static void WriteContinuation(Span<byte> entry, bool native, HypercallPreemption p)
    {
        var a = p.Arguments;
        ulong[] args = [a.A1, a.A2, a.A3, a.A4, a.A5];
        if (native)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(entry, (ulong)p.Operation);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], (ulong)p.Operation);
            for (int i = 0; i < args.Length; i++)
                BinaryPrimitives.WriteUInt64LittleEndian(entry[(16 + (8 * i))..], args[i]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)p.Operation);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], (uint)p.Operation);
            for (int i = 0; i < args.Length; i++)
                BinaryPrimitives.WriteUInt32LittleEndian(entry[(8 + (4 * i))..], (uint)args[i]);
        }
    }

    /// <summary>
    /// arch_do_multicall_call's verdict after one entry. HVM (hvm_do_multicall_call): continue
    /// while the vCPU is at CPL 0, which a multicall caller always is here. PV
    /// (pv_do_multicall_call, the XSA-213 fix): an entry that was __HYPERVISOR_iret ends the batch
    /// (<see cref="Disposition.Exit"/>: the iret has switched the guest's context, so no further
    /// entry may run on the old one, and the iret's result is the multicall's), and an entry that
    /// left the guest in user mode preempts it. The <c>xsa-213</c> quirk re-creates the bug: the
    /// batch runs on regardless.
    /// </summary>
    private static Disposition AfterCall(IHypercallContext ctx, ulong op)
    {
        if (ctx is not Pv.PvDomain pv || pv.Options.Quirks.Contains(Quirk.Xsa213))
            return Disposition.Continue;
        if (op == HypercallNumber.Iret)
            return Disposition.Exit;
        return pv.InGuestKernelMode ? Disposition.Continue : Disposition.Preempt;
    }

    /// <summary>The table lookup on the entry's full op: a value beyond the table is -ENOSYS, not truncated.</summary>
    private static long Dispatch(IHypercallContext ctx, ulong op, HypercallArgs args) =>
        op < HypercallNumber.PageSlots ? HypercallTable.Dispatch(ctx, (int)op, args) : -XenErrno.ENOSYS;

    private static HypercallArgs NativeArgs(ReadOnlySpan<byte> e) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(e[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(e[24..]),
        BinaryPrimitives.ReadUInt64LittleEndian(e[32..]),
        BinaryPrimitives.ReadUInt64LittleEndian(e[40..]),
        BinaryPrimitives.ReadUInt64LittleEndian(e[48..]));

    private static HypercallArgs CompatArgs(ReadOnlySpan<byte> e) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(e[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(e[12..]),
        BinaryPrimitives.ReadUInt32LittleEndian(e[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(e[20..]),
        BinaryPrimitives.ReadUInt32LittleEndian(e[24..]));
}
