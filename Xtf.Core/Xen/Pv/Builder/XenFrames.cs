using Xtf.Core.Cpu.Memory;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Pv.Builder;

/// <summary>
/// The hypervisor's machine frames: those above the guest's (machine frames from
/// <see cref="First"/> on), handed out in order, zeroed. None of them is ever the guest's; only the
/// shared_info frame may be mapped by it.
/// </summary>
public sealed class XenFrames(PhysicalMemory memory, ulong first)
{
    /// <summary>Frames reserved for the hypervisor above guest RAM: Xen's tables, stack, GDT page, both M2P views.</summary>
    public const ulong Reserved = 512;

    private ulong next = first;

    /// <summary>The first hypervisor frame (the first machine frame above guest RAM).</summary>
    public ulong First { get; } = first;

    /// <summary>One past the last frame handed out.</summary>
    public ulong End => next;

    /// <summary>Hands out the next hypervisor frame, zeroed; throws <see cref="InvalidOperationException"/> once the <see cref="Reserved"/> frames (or machine memory) are used up.</summary>
    public ulong Allocate()
    {
        if (next >= First + Reserved || next >= memory.FrameCount)
            throw new InvalidOperationException("the hypervisor's frames are exhausted");
        memory.Write(next << 12, new byte[PhysicalMemory.FrameSize]);
        return next++;
    }

    /// <summary>True for a machine frame in the hypervisor's reserved range [<see cref="First"/>, First + <see cref="Reserved"/>).</summary>
    public bool Owns(ulong mfn) => mfn >= First && mfn < First + Reserved;
}

/// <summary>Writes page-table entries into machine frames (the builder's and Xen's own tables).</summary>
internal static class PageTableWriter
{
    /// <summary>__PAGE_HYPERVISOR: present, writable, accessed, dirty, supervisor.</summary>
    public const ulong Hypervisor = PageWalker.P | PageWalker.RW | PageWalker.A | PageWalker.D;

    /// <summary>__PAGE_HYPERVISOR_RO.</summary>
    public const ulong HypervisorReadOnly = PageWalker.P | PageWalker.A;

    public static void Set(PhysicalMemory memory, ulong tableMfn, int index, ulong entry)
    {
        Span<byte> b = stackalloc byte[8];
        BitConverter.TryWriteBytes(b, entry);
        memory.Write((tableMfn << 12) + ((ulong)index * 8), b);
    }

    public static ulong Get(PhysicalMemory memory, ulong tableMfn, int index)
    {
        Span<byte> b = stackalloc byte[8];
        memory.Read((tableMfn << 12) + ((ulong)index * 8), b);
        return BitConverter.ToUInt64(b);
    }

    /// <summary>
    /// Maps <paramref name="mfns"/> at consecutive 4 KiB pages from <paramref name="virt"/> under
    /// the L4 <paramref name="l4"/>, allocating missing L3/L2/L1 tables from <paramref name="frames"/>
    /// with <paramref name="tableFlags"/>; the leaves get <paramref name="leafFlags"/>.
    /// </summary>
    public static void Map(PhysicalMemory memory, XenFrames frames, ulong l4, ulong virt, IReadOnlyList<ulong> mfns, ulong leafFlags, ulong tableFlags)
    {
        for (int i = 0; i < mfns.Count; i++)
        {
            ulong va = virt + ((ulong)i << 12);
            ulong table = l4;
            for (int shift = 39; shift > 12; shift -= 9)
            {
                int index = (int)((va >> shift) & 511);
                ulong entry = Get(memory, table, index);
                if ((entry & PageWalker.P) == 0)
                {
                    entry = (frames.Allocate() << 12) | tableFlags;
                    Set(memory, table, index, entry);
                }

                table = (entry & 0x000FFFFFFFFFF000) >> 12;
            }

            Set(memory, table, (int)((va >> 12) & 511), (mfns[i] << 12) | leafFlags);
        }
    }
}
