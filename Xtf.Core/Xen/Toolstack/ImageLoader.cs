using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>Copies an image's PT_LOAD segments into guest memory (libelf's elf_load_binary), as the toolstack does: the only writes to guest memory that bypass the CPU.</summary>
public static class ImageLoader
{
    /// <summary>
    /// Places every PT_LOAD segment at its p_paddr minus <paramref name="paddrOffset"/>, zero-filling
    /// from p_filesz to p_memsz, and returns where the image lies (libelf's pstart .. pend). A segment outside
    /// [<paramref name="low"/>, <paramref name="high"/>) (the guest RAM the builder may fill,
    /// described by <paramref name="region"/>) or overlapping another is a <see cref="DomainBuildException"/>.
    /// </summary>
    public static LoadedImage Load(PhysicalMemory memory, ElfImage elf, ulong paddrOffset, ulong high, string region, ulong low = 0)
    {
        var placed = new List<(ulong Start, ulong End)>();
        ulong imageStart = ulong.MaxValue, imageEnd = 0;
        foreach (var s in elf.Segments)
        {
            if (s.MemorySize == 0)
                continue;
            ulong start = s.PhysicalAddress - paddrOffset;
            if (s.PhysicalAddress < paddrOffset || start < low || start > high || s.MemorySize > high - start)
                throw new DomainBuildException($"segment at 0x{s.PhysicalAddress:x} (+0x{s.MemorySize:x}) lies outside {region} [0x{low:x}, 0x{high:x})");
            ulong end = start + s.MemorySize;
            if (placed.Find(p => start < p.End && p.Start < end) is { End: not 0 } other)
                throw new DomainBuildException($"segment at 0x{start:x} (+0x{s.MemorySize:x}) overlaps the segment at 0x{other.Start:x}");
            placed.Add((start, end));
            memory.Write(start, elf.Bytes.AsSpan((int)s.Offset, (int)s.FileSize));
            ZeroFill(memory, start + s.FileSize, end);
            imageStart = Math.Min(imageStart, start);
            imageEnd = Math.Max(imageEnd, end);
        }

        if (placed.Count == 0)
            throw new DomainBuildException("every PT_LOAD segment is empty");
        return new LoadedImage(imageStart, imageEnd);
    }

    /// <summary>Zeroes [<paramref name="from"/>, <paramref name="to"/>) a frame at a time; a frame never written is zero already and stays unallocated, so a large bss costs no host memory.</summary>
    private static void ZeroFill(PhysicalMemory memory, ulong from, ulong to)
    {
        ReadOnlySpan<byte> zeros = stackalloc byte[PhysicalMemory.FrameSize];
        for (ulong at = from; at < to;)
        {
            ulong frameEnd = (at | (PhysicalMemory.FrameSize - 1)) + 1;
            ulong end = Math.Min(frameEnd, to);
            if (memory.GetFrame(at / PhysicalMemory.FrameSize, forWrite: false) is not null)
                memory.Write(at, zeros[..(int)(end - at)]);
            at = end;
        }
    }
}

/// <summary>Where the loaded image lies in guest memory: [<paramref name="Start"/>, <paramref name="End"/>).</summary>
/// <param name="Start">The lowest segment's first byte.</param>
/// <param name="End">One past the highest segment's last byte.</param>
public sealed record LoadedImage(ulong Start, ulong End)
{
    /// <summary>True if <paramref name="address"/> lies in the image.</summary>
    public bool Contains(ulong address) => address >= Start && address < End;
}

/// <summary>A domain the toolstack cannot build from its image and configuration (the reason is the instance's CRASH reason).</summary>
public sealed class DomainBuildException(string message) : Exception(message);
