using System.Buffers.Binary;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// The reservation operations and XENMEM_exchange (xen/common/memory.c of RELEASE-4.19.0).
/// struct xen_memory_reservation native (32 bytes): extent_start handle @0, nr_extents u64 @8,
/// extent_order u32 @16, mem_flags u32 @20, domid u16 @24; compat (20 bytes, compat/memory.c's
/// translation): extent_start u32 @0, nr_extents u32 @4, extent_order @8, mem_flags @12, domid @16,
/// and the extent list holds 32-bit frame numbers. An HVM domain's p2m is the machine's
/// physical memory: a populated gfn is a frame of RAM, a decreased one is a hole.
/// A PV domain's frames are machine frames, and this machine has no free frames beyond the
/// guest's and Xen's own: its allocations fail as alloc_domheap_pages does on an empty heap.
/// Its decrease_reservation would free frames while page tables still map them: the frame table
/// keeps no general reference count to know when, so PV decrease_reservation is -ENOSYS here.
/// </summary>
internal static partial class MemoryOp
{
    /// <summary>domu_max_order: CONFIG_DOMU_MAX_ORDER = PAGETABLE_ORDER (9) on x86 (asm/config.h).</summary>
    public const int DomUMaxOrder = 9;

    /// <summary>MEMOP_EXTENT_SHIFT: the continuation's start extent lives above bit 6, so nr_extents must fit UINT_MAX &gt;&gt; 6.</summary>
    private const ulong MaxExtents = uint.MaxValue >> ExtentShift;

    /// <summary>The gfns a 4-level EPT/NPT p2m can map: 48-bit guest physical addresses.</summary>
    private const ulong GfnLimit = 1ul << 36;

    /// <summary>XENMEMF_exact_node_request (public/memory.h).</summary>
    private const uint ExactNodeRequest = 1u << 17;

    private readonly record struct ReservationArgs(ulong ExtentStart, ulong NrExtents, uint ExtentOrder, uint MemFlags, ushort DomId);

    private static bool TryReadReservation(IHypercallContext ctx, ulong at, out ReservationArgs r)
    {
        bool wide = ctx.Is64Bit;
        var s = new byte[wide ? 32 : 20];
        r = default;
        if (!ctx.Guest.TryRead(at, s))
            return false;
        r = wide
            ? new ReservationArgs(BinaryPrimitives.ReadUInt64LittleEndian(s), BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(8)),
                BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(16)), BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(20)),
                BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(24)))
            : new ReservationArgs(BinaryPrimitives.ReadUInt32LittleEndian(s), BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4)),
                BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(8)), BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(12)),
                BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(16)));
        return true;
    }

    private static int PfnSize(IHypercallContext ctx) => ctx.Is64Bit ? 8 : 4;

    private static bool TryReadPfn(IHypercallContext ctx, ulong list, ulong index, out ulong pfn)
    {
        int size = PfnSize(ctx);
        Span<byte> b = stackalloc byte[8];
        b.Clear();
        bool ok = ctx.Guest.TryRead(list + (index * (ulong)size), b[..size]);
        pfn = BinaryPrimitives.ReadUInt64LittleEndian(b);
        return ok;
    }

    /// <summary>guest_handle_subrange_okay(list, first, last) for the extent list.</summary>
    private static bool SubrangeOkay(IHypercallContext ctx, ulong list, ulong first, ulong last) =>
        last < first || GuestHandle.Okay(ctx, list + (first * (ulong)PfnSize(ctx)), (last - first + 1) * (ulong)PfnSize(ctx));

    /// <summary>
    /// construct_memop_from_reservation's flag checks: address bits of 1..12 are -EINVAL (bits
    /// at or above the machine's are ignored); for a domain without vNUMA, a node other than
    /// NUMA_NO_NODE is dropped for a guest domain unless an exact node was requested (propagate_node).
    /// </summary>
    private static bool MemFlagsOkay(IHypercallContext ctx, uint memFlags)
    {
        uint addressBits = memFlags & 0xFF;
        int machineBits = 64 - System.Numerics.BitOperations.LeadingZeroCount(ctx.Guest.Cpu.Memory.FrameCount - 1) + 12;
        if (addressBits != 0 && addressBits < machineBits && addressBits <= 12)
            return false;
        uint node = ((memFlags >> 8) - 1) & 0xFF;
        return node == 0xFF || (memFlags & ExactNodeRequest) == 0;
    }

    /// <summary>
    /// do_memory_op's reservation path: every early failure (copy, a count too large for a
    /// continuation, start beyond the list, unknown domain, bad flags, XSM) returns the start
    /// extent; otherwise the number of extents done.
    /// </summary>
    private static long Reservation(IHypercallContext ctx, int op, ulong startExtent, ulong arg)
    {
        if (!TryReadReservation(ctx, arg, out var r) || r.NrExtents > MaxExtents || startExtent >= r.NrExtents
            || ctx.Domain.CheckTarget(r.DomId) != 0 || !MemFlagsOkay(ctx, r.MemFlags))
            return (long)startExtent;
        if (op == DecreaseReservation && !ctx.IsHvm)
            return -XenErrno.ENOSYS;
        // XENMEMF_populate_on_demand: "Disallow populating PoD pages on oneself" ends at the first extent.
        if (op == PopulatePhysmap && (r.MemFlags & (1u << 16)) != 0)
            return (long)startExtent;
        bool preempted = false;
        ulong done = op switch
        {
            IncreaseReservation => Increase(ctx, r, startExtent, ref preempted),
            DecreaseReservation => Decrease(ctx, r, startExtent, ref preempted),
            _ => Populate(ctx, r, startExtent, ref preempted),
        };

        // args.preempted: continue with the extents done carried in cmd (op | done << MEMOP_EXTENT_SHIFT).
        if (preempted)
            return ctx.Preemption.CreateContinuation(HypercallNumber.MemoryOp, (uint)op | (done << ExtentShift), arg);
        return (long)done;
    }

    /// <summary>The check at the top of each extent after the first of this run (i != a->nr_done &amp;&amp; hypercall_preempt_check()): sets args.preempted.</summary>
    private static bool Preempt(IHypercallContext ctx, ulong i, ulong first, ref bool preempted) =>
        i != first && (preempted = ctx.Preemption.Check());

    /// <summary>
    /// increase_reservation: pages for the domain that no gfn maps (an HVM guest is told nothing;
    /// a PV guest would get the new mfns in a non-null list).
    /// </summary>
    private static ulong Increase(IHypercallContext ctx, ReservationArgs r, ulong i, ref bool preempted)
    {
        if ((r.ExtentStart != 0 && !SubrangeOkay(ctx, r.ExtentStart, i, r.NrExtents - 1)) || r.ExtentOrder > DomUMaxOrder)
            return i;
        for (ulong first = i; i < r.NrExtents; i++)
        {
            if (Preempt(ctx, i, first, ref preempted) || !AllocatePages(ctx, r.ExtentOrder))
                break;
        }

        return i;
    }

    /// <summary>alloc_domheap_pages: a PV domain's heap is empty here; an HVM domain's pages are accounted against max_pages.</summary>
    private static bool AllocatePages(IHypercallContext ctx, uint order) =>
        ctx.IsHvm && ctx.Domain.TryAllocatePages(1ul << (int)order);

    /// <summary>
    /// populate_physmap: for each gpfn in the list, allocate 2^order pages and enter them in the
    /// p2m there (guest_physmap_add_page). A gfn that already had RAM is remapped; its old page
    /// stays allocated to the domain, as p2m_add_page leaves it.
    /// </summary>
    private static ulong Populate(IHypercallContext ctx, ReservationArgs r, ulong i, ref bool preempted)
    {
        if (!SubrangeOkay(ctx, r.ExtentStart, i, r.NrExtents - 1) || r.ExtentOrder > DomUMaxOrder)
            return i;
        var memory = (PhysicalMemory)ctx.Guest.Cpu.Memory;
        ulong pages = 1ul << (int)r.ExtentOrder;
        for (ulong first = i; i < r.NrExtents; i++)
        {
            if (Preempt(ctx, i, first, ref preempted) || !TryReadPfn(ctx, r.ExtentStart, i, out ulong gpfn) || !AllocatePages(ctx, r.ExtentOrder))
                break;
            if (gpfn >= GfnLimit || GfnLimit - gpfn < pages)
            {
                // guest_physmap_add_page fails: the pages go back to the heap.
                ctx.Domain.TotPages -= pages;
                break;
            }

            for (ulong j = 0; j < pages; j++)
                memory.Populate(gpfn + j);
        }

        return i;
    }

    /// <summary>
    /// decrease_reservation (HVM, no PoD): guest_remove_page for each of the extent's 2^order
    /// gfns; a gfn with no RAM behind it (p2m_invalid: -ENOENT) ends the operation at that extent.
    /// A removed page leaves the p2m (the gfn reads as a hole) and is freed (tot_pages drops).
    /// </summary>
    private static ulong Decrease(IHypercallContext ctx, ReservationArgs r, ulong i, ref bool preempted)
    {
        if (!SubrangeOkay(ctx, r.ExtentStart, i, r.NrExtents - 1) || r.ExtentOrder > DomUMaxOrder)
            return i;
        var memory = (PhysicalMemory)ctx.Guest.Cpu.Memory;
        ulong pages = 1ul << (int)r.ExtentOrder;
        for (ulong first = i; i < r.NrExtents; i++)
        {
            if (Preempt(ctx, i, first, ref preempted) || !TryReadPfn(ctx, r.ExtentStart, i, out ulong gmfn))
                break;
            ulong j = 0;
            for (; j < pages; j++)
            {
                if (!memory.Remove(gmfn + j))
                    break;
                ctx.Domain.TotPages--;
            }

            if (j < pages)
                break;
        }

        return i;
    }

    /// <summary>
    /// memory_exchange. struct xen_memory_exchange { reservation in, out; xen_ulong_t nr_exchanged; }
    /// (native: out @32, nr_exchanged @64; compat: out @20, nr_exchanged u32 @40). The early checks
    /// in Xen's order (-EFAULT, -EPERM for an order above max_order, -EINVAL for inconsistent
    /// lists, 0 when all are exchanged, -EFAULT for lists outside guest space, -EINVAL for flags,
    /// -ESRCH/-EPERM for the domain); then the first input page is stolen: an HVM domain's never
    /// can be (steal_page: -EOPNOTSUPP with external paging), a gfn without a frame is -EINVAL, a
    /// PV frame not the guest's or still typed (mapped) is -EINVAL, and otherwise the output
    /// allocation fails (-ENOMEM: no free machine frames) and the input is given back. Every
    /// failure writes nr_exchanged back.
    /// </summary>
    private static long ExchangeCall(IHypercallContext ctx, ulong arg)
    {
        bool wide = ctx.Is64Bit;
        int outOffset = wide ? 32 : 20, exchangedOffset = wide ? 64 : 40;
        if (!TryReadReservation(ctx, arg, out var input) || !TryReadReservation(ctx, arg + (ulong)outOffset, out var output))
            return -XenErrno.EFAULT;
        Span<byte> nx = stackalloc byte[8];
        nx.Clear();
        if (!ctx.Guest.TryRead(arg + (ulong)exchangedOffset, nx[..(wide ? 8 : 4)]))
            return -XenErrno.EFAULT;
        ulong exchanged = BinaryPrimitives.ReadUInt64LittleEndian(nx);
        long rc = ExchangeChecked(ctx, input, output, ref exchanged);
        if (rc == 0 && exchanged == input.NrExtents)
            return 0;
        BinaryPrimitives.WriteUInt64LittleEndian(nx, exchanged);
        return ctx.Guest.TryWrite(arg + (ulong)exchangedOffset, nx[..(wide ? 8 : 4)]) ? rc : -XenErrno.EFAULT;
    }

    private static long ExchangeChecked(IHypercallContext ctx, ReservationArgs input, ReservationArgs output, ref ulong exchanged)
    {
        if (Math.Max(input.ExtentOrder, output.ExtentOrder) > DomUMaxOrder)
            return -XenErrno.EPERM;
        int bits = ctx.Is64Bit ? 64 : 32;
        ulong mask = bits == 64 ? ulong.MaxValue : uint.MaxValue;
        if (exchanged > input.NrExtents || input.DomId != output.DomId
            || (mask >> (int)input.ExtentOrder) < input.NrExtents || (mask >> (int)output.ExtentOrder) < output.NrExtents
            || ((input.NrExtents << (int)input.ExtentOrder) & mask) != ((output.NrExtents << (int)output.ExtentOrder) & mask))
            return -XenErrno.EINVAL;
        if (exchanged == input.NrExtents)
            return 0;
        if (!SubrangeOkay(ctx, input.ExtentStart, exchanged, input.NrExtents - 1))
            return -XenErrno.EFAULT;
        int inChunkOrder = input.ExtentOrder <= output.ExtentOrder ? (int)(output.ExtentOrder - input.ExtentOrder) : 0;
        int outChunkOrder = input.ExtentOrder <= output.ExtentOrder ? 0 : (int)(input.ExtentOrder - output.ExtentOrder);
        ulong outFirst = inChunkOrder != 0 ? exchanged >> inChunkOrder : exchanged << outChunkOrder;
        if (!SubrangeOkay(ctx, output.ExtentStart, outFirst, output.NrExtents - 1))
            return -XenErrno.EFAULT;
        if (!MemFlagsOkay(ctx, output.MemFlags & ~0xFFu))
            return -XenErrno.EINVAL;
        int rc = ctx.Domain.CheckTarget(input.DomId);
        if (rc != 0)
            return rc;

        ulong i = exchanged >> inChunkOrder;
        exchanged = i << inChunkOrder;
        if (!TryReadPfn(ctx, input.ExtentStart, i << inChunkOrder, out ulong gmfn))
            return -XenErrno.EFAULT;
        if (ctx.IsHvm)
            return ctx.Guest.Cpu.Memory.GetFrame(gmfn, forWrite: false) is null ? -XenErrno.EINVAL : -XenErrno.EOPNOTSUPP;
        var frames = ((Pv.PvDomain)ctx).Mmu.Frames;
        if (!frames.IsValid(gmfn) || frames.Owner(gmfn) != Pv.Memory.FrameOwner.Guest || frames.TypeCount(gmfn) != 0)
            return -XenErrno.EINVAL;
        return -XenErrno.ENOMEM;
    }
}
