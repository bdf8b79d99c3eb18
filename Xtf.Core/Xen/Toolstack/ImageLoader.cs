using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>Copies an image's PT_LOAD segments into guest memory (libelf's elf_load_binary), as the toolstack does: the only writes to guest memory that bypass the CPU.</summary>
public static class ImageLoader
{
    /// <summary>
    /// Places every PT_LOAD segment at its p_paddr minus <paramref name="paddrOffset"/>, zero-filling
    /// from p_filesz to p_memsz, and returns the end of the highest. A segment outside
    /// [<paramref name="low"/>, <paramref name="high"/>) (the guest RAM the builder may fill,
    /// described by <paramref name="region"/>) or overlapping another is a <see cref="DomainBuildException"/>.
    /// </summary>
    public static ulong Load(PhysicalMemory memory, ElfImage elf, ulong paddrOffset, ulong high, string region, ulong low = 0)
    {
        var placed = new List<(ulong Start, ulong End)>();
        ulong imageEnd = 0;
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
            if (s.MemorySize > s.FileSize)
                memory.Write(start + s.FileSize, new byte[s.MemorySize - s.FileSize]);
            imageEnd = Math.Max(imageEnd, end);
        }

        if (placed.Count == 0)
            throw new DomainBuildException("every PT_LOAD segment is empty");
        return imageEnd;
    }
}

/// <summary>A domain the toolstack cannot build from its image and configuration (the reason is the instance's CRASH reason).</summary>
public sealed class DomainBuildException(string message) : Exception(message);
