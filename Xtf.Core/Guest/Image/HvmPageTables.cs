using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Machine;

namespace Xtf.Core.Guest.Image;

/// <summary>
/// The paged HVM environments' page tables, as XTF's arch/x86/hvm/pagetables.S lays them out:
/// an identity map of the low 4 GiB (hvm32pse: 4 MiB pages; hvm32pae and hvm64: 2 MiB pages), with the
/// first large page split into 4 KiB pages so that page 0 can stay unmapped (a NULL dereference
/// faults). Every entry is writable with A and D preset; only the pages that user code needs are
/// user-accessible (the U/S bit is set on the path to them and nowhere else).
/// </summary>
internal static class HvmPageTables
{
    private const ulong Present = PageWalker.P | PageWalker.RW | PageWalker.A | PageWalker.D;

    /// <summary>Pages of the image user code may touch: the user host-gate page, user text, user data, the user stack.</summary>
    public static readonly ulong[] UserPages = [HvmLayout.UserGates, .. PagesOf(HvmLayout.UserText, HvmLayout.UserStackTop)];

    private static IEnumerable<ulong> PagesOf(ulong start, ulong end)
    {
        for (ulong page = start; page < end; page += 0x1000)
            yield return page;
    }

    /// <summary>Writes the tables for <paramref name="environment"/>; returns CR3 and the CR4 paging bits, or null without paging.</summary>
    public static (ulong Cr3, ulong Cr4)? Write(PhysicalMemory memory, Environments environment) => environment switch
    {
        Environments.Hvm32Pse => (WritePse(memory), Cr4.PSE),
        Environments.Hvm32Pae => (WritePae(memory), Cr4.PAE),
        Environments.Hvm64 => (WriteLongMode(memory), Cr4.PAE),
        _ => null,
    };

    /// <summary>32-bit paging: a page directory of 4 MiB pages; PDE 0 points to a page table.</summary>
    private static ulong WritePse(PhysicalMemory memory)
    {
        ulong directory = HvmLayout.PageTables, table = directory + 0x1000;
        var pd = new uint[1024];
        for (uint i = 1; i < 1024; i++)
            pd[i] = (i << 22) | (uint)(Present | PageWalker.PS);
        pd[0] = (uint)(table | Present | PageWalker.US);
        var pt = new uint[1024];
        for (uint i = 1; i < 1024; i++)
            pt[i] = (i << 12) | (uint)Present | (IsUserPage(i << 12) ? (uint)PageWalker.US : 0);
        Write(memory, directory, pd);
        Write(memory, table, pt);
        return directory;
    }

    /// <summary>PAE paging: four PDPTEs, four directories of 2 MiB pages; the first PDE points to a page table.</summary>
    private static ulong WritePae(PhysicalMemory memory)
    {
        ulong pdpt = HvmLayout.PageTables, directories = pdpt + 0x1000, table = pdpt + 0x5000;
        var pdptes = new ulong[4];
        for (int j = 0; j < 4; j++)
            pdptes[j] = (directories + (ulong)(0x1000 * j)) | PageWalker.P;
        Write(memory, pdpt, pdptes);
        WriteDirectoriesAndTable(memory, directories, table);
        return pdpt;
    }

    /// <summary>
    /// 4-level paging: a PML4 whose entry 0 points to one PDPT, whose four entries point to four
    /// directories of 2 MiB pages; the first PDE points to a page table. Unlike PAE PDPTEs, the
    /// upper-level entries of 4-level paging have R/W and U/S (SDM vol. 3, 4.5.4), so they are
    /// writable, and user-accessible only on the path to the user pages.
    /// </summary>
    private static ulong WriteLongMode(PhysicalMemory memory)
    {
        ulong pml4 = HvmLayout.PageTables, pdpt = pml4 + 0x1000, directories = pml4 + 0x2000, table = pml4 + 0x6000;
        var pml4es = new ulong[512];
        pml4es[0] = pdpt | Present | PageWalker.US;
        Write(memory, pml4, pml4es);
        var pdptes = new ulong[512];
        for (int j = 0; j < 4; j++)
            pdptes[j] = (directories + (ulong)(0x1000 * j)) | Present;
        pdptes[0] |= PageWalker.US;
        Write(memory, pdpt, pdptes);
        WriteDirectoriesAndTable(memory, directories, table);
        return pml4;
    }

    /// <summary>Four directories of 2 MiB pages for the low 4 GiB, the first 2 MiB through a page table, page 0 absent.</summary>
    private static void WriteDirectoriesAndTable(PhysicalMemory memory, ulong directories, ulong table)
    {
        var pd = new ulong[2048];
        for (ulong i = 1; i < 2048; i++)
            pd[i] = (i << 21) | Present | PageWalker.PS;
        pd[0] = table | Present | PageWalker.US;
        Write(memory, directories, pd);
        var pt = new ulong[512];
        for (ulong i = 1; i < 512; i++)
            pt[i] = (i << 12) | Present | (IsUserPage(i << 12) ? PageWalker.US : 0);
        Write(memory, table, pt);
    }

    private static bool IsUserPage(ulong address) => UserPages.Contains(address);

    private static void Write<T>(PhysicalMemory memory, ulong address, T[] entries)
        where T : unmanaged => memory.Write(address, System.Runtime.InteropServices.MemoryMarshal.AsBytes(entries.AsSpan()));
}
