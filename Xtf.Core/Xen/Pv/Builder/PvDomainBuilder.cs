using System.Text;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Pv.Builder;

/// <summary>
/// The PV domain builder (libxenguest's xc_dom_x86 and Xen's arch_set_info_guest): after the
/// loaded image, in this order, the p2m list, start_info, the xenstore and console pages, the
/// start-of-day page tables and a boot stack page, all mapped at virtual = pseudo-physical up to
/// the next 4 MiB boundary at least 512 KiB beyond them; the page-table pages read-only. The
/// hypervisor's side: its GDT page, TSS and stack, shared_info, the M2P, and its slots in the
/// guest's top-level table (pv64) or its own L4 above the guest's L3 (pv32pae).
/// </summary>
public static class PvDomainBuilder
{
    private const ulong Page = 0x1000;

    /// <summary>libxc's L1_PROT .. L4_PROT; pv64 runs its kernel in ring 3, so Xen gives every guest mapping _PAGE_USER.</summary>
    private const ulong TableFlags = PageWalker.P | PageWalker.RW | PageWalker.A | PageWalker.D | PageWalker.US;

    /// <summary>Builds <paramref name="d"/> around the already-loaded <paramref name="image"/>, pins the start-of-day root as Xen validates it, and puts the vCPU at the image's entry point (ESI/RSI = start_info, kernel stack at the boot stack page's top). Returns the addresses it chose; throws <see cref="InvalidOperationException"/> if the area does not fit the guest's RAM or the tables fail validation.</summary>
    public static PvStartOfDay Build(PvDomain d, PvKernelImage image)
    {
        var memory = d.Memory;
        var frames = d.Frames;
        bool wide = d.Is64BitDomain;
        ulong n = d.GuestFrames;

        // Guest pages after the image (virtual = pfn << 12).
        ulong next = (image.ImageEnd + Page - 1) & ~(Page - 1);
        ulong Take(ulong bytes)
        {
            ulong at = next;
            next += (bytes + Page - 1) & ~(Page - 1);
            return at;
        }

        int entrySize = wide ? 8 : 4;
        ulong mfnList = Take(n * (ulong)entrySize);
        ulong startInfo = Take(Page);
        ulong store = Take(Page);
        ulong console = Take(Page);
        ulong mappedEnd = ((next + (64 * Page) + 0x80000 + 0x3FFFFF) & ~0x3FFFFFul);
        int l1Count = (int)(mappedEnd >> 21);
        int tableCount = l1Count + 3;
        ulong tables = Take((ulong)tableCount * Page);
        ulong stack = Take(Page);
        if (next > mappedEnd || mappedEnd >> 12 > n)
            throw new InvalidOperationException("the PV start-of-day area does not fit the guest");

        WriteP2m(memory, mfnList, n, entrySize);
        d.Domain = DomainState.CreatePv(memory, store >> 12, console >> 12, new PvGrantFrames(frames, d.Mmu.Frames));
        d.Domain.TotPages = n;
        d.Domain.MaxPages = n + DomainState.MaxMemSlackPages;

        // The hypervisor's frames: shared_info, GDT, TSS, stack, and its page-table slots.
        d.SharedInfoMfn = frames.Allocate();
        d.Mmu.Frames.ShareWithGuest(d.SharedInfoMfn);
        d.Domain.EventChannels.Attach(new Events.SharedInfoEvents(d.Cpu, d.SharedInfoMfn << 12, compat: !wide));
        var xen = XenArea.Build(d);
        d.Xen = xen;

        // Start-of-day tables: pv64 L4 -> L3 -> L2 -> L1s; pv32pae L3 -> L2 (slot 0) and the
        // L2 of slot 3 that carries Xen's compat slots.
        ulong l1Base = tables, root;
        ulong[] l1 = [.. Enumerable.Range(0, l1Count).Select(i => (l1Base >> 12) + (ulong)i)];
        ulong l2 = (tables >> 12) + (ulong)l1Count;
        ulong leafFlags = PageWalker.P | PageWalker.RW | PageWalker.A | (wide ? PageWalker.US : 0);
        for (ulong va = 0; va < mappedEnd; va += Page)
        {
            bool pageTable = va >= tables && va < tables + ((ulong)tableCount * Page);
            ulong flags = pageTable ? leafFlags & ~PageWalker.RW : leafFlags;
            PageTableWriter.Set(memory, l1[va >> 21], (int)((va >> 12) & 511), va | flags);
        }

        for (int i = 0; i < l1Count; i++)
            PageTableWriter.Set(memory, l2, i, (l1[i] << 12) | TableFlags);
        if (wide)
        {
            ulong l3 = l2 + 1, l4 = l2 + 2;
            PageTableWriter.Set(memory, l3, 0, (l2 << 12) | TableFlags);
            PageTableWriter.Set(memory, l4, 0, (l3 << 12) | TableFlags);
            xen.InstallL4Slots(l4);
            root = l4;
        }
        else
        {
            ulong l3 = l2 + 1, l2Top = l2 + 2;
            PageTableWriter.Set(memory, l3, 0, (l2 << 12) | TableFlags);
            PageTableWriter.Set(memory, l3, 3, (l2Top << 12) | TableFlags);
            xen.InstallCompatL2Slots(l2Top);
            d.CompatL4 = frames.Allocate();
            xen.InstallL4Slots(d.CompatL4);
            root = l3;
        }

        ulong hypercallMfn = image.HypercallPage >> 12;
        if (image.HypercallPage != 0 && hypercallMfn < n)
        {
            d.HypercallPageMfn = hypercallMfn;
            d.WriteHypercallPage();
        }

        WriteStartInfo(d, startInfo, store >> 12, console >> 12, root << 12, tableCount, mfnList, image.CommandLine, wide);
        d.Vcpu.KernelRoot = root;
        xen.LoadCpu(root);
        if (d.Mmu.PinInitial(root) is var rc and not 0)
            throw new InvalidOperationException($"the start-of-day page tables do not validate: {rc}");
        var sod = new PvStartOfDay(startInfo, root << 12, tableCount, mfnList, stack + Page, mappedEnd);
        Enter(d, image.Entry, sod);
        return sod;
    }

    private static void WriteP2m(PhysicalMemory memory, ulong at, ulong n, int entrySize)
    {
        var list = new byte[n * (ulong)entrySize];
        for (ulong pfn = 0; pfn < n; pfn++)
        {
            if (entrySize == 8)
                BitConverter.TryWriteBytes(list.AsSpan((int)(pfn * 8)), pfn);
            else
                BitConverter.TryWriteBytes(list.AsSpan((int)(pfn * 4)), (uint)pfn);
        }

        memory.Write(at, list);
    }

    /// <summary>start_info_t (public/xen.h), native and compat layouts.</summary>
    private static void WriteStartInfo(PvDomain d, ulong at, ulong storeMfn, ulong consoleMfn, ulong ptBase, int ptFrames, ulong mfnList, string cmdline, bool wide)
    {
        var si = new byte[Page];
        Encoding.ASCII.GetBytes(wide ? "xen-3.0-x86_64" : "xen-3.0-x86_32p").CopyTo(si, 0);
        void Word(int native, int compat, ulong value)
        {
            if (wide)
                BitConverter.TryWriteBytes(si.AsSpan(native), value);
            else
                BitConverter.TryWriteBytes(si.AsSpan(compat), (uint)value);
        }

        void U32(int native, int compat, uint value) => BitConverter.TryWriteBytes(si.AsSpan(wide ? native : compat), value);

        Word(32, 32, d.GuestFrames);
        Word(40, 36, d.SharedInfoMfn << 12);
        U32(48, 40, 0);
        Word(56, 44, storeMfn);
        U32(64, 48, d.Domain.StorePort);
        Word(72, 52, consoleMfn);
        U32(80, 56, d.Domain.ConsolePort);
        Word(88, 60, ptBase);
        Word(96, 64, (ulong)ptFrames);
        Word(104, 68, mfnList);
        var line = Encoding.ASCII.GetBytes(cmdline);
        line.AsSpan(0, Math.Min(line.Length, 1023)).CopyTo(si.AsSpan(wide ? 128 : 80));
        d.Memory.Write(at, si);
    }

    /// <summary>
    /// The initial vCPU context (libxc's vcpu_x86_64 / vcpu_x86_32pae): the kernel code and
    /// stack segments, flat kernel data segments, RSI/ESI = start_info, RSP/ESP = the boot stack,
    /// RFLAGS.IF set; entered through the hypervisor's exit path.
    /// </summary>
    private static void Enter(PvDomain d, ulong entry, PvStartOfDay sod)
    {
        var cpu = d.Cpu;
        bool wide = d.Is64BitDomain;
        ushort cs = wide ? PvAbi.FlatRing3Cs64 : PvAbi.FlatRing1Cs;
        ushort ds = wide ? PvAbi.FlatRing3Ds64 : PvAbi.FlatRing1Ds;
        ushort ss = wide ? PvAbi.FlatRing3Ss64 : PvAbi.FlatRing1Ds;
        cpu[X86Cpu.RSI] = sod.StartInfo;
        cpu.Segments[X86Cpu.CS].Load(PvAbi.HypervisorCs, Cpu.Segmentation.SegmentDescriptor.Code64(0));
        cpu.UpdateMode();
        foreach (int seg in new[] { X86Cpu.DS, X86Cpu.ES, X86Cpu.FS, X86Cpu.GS })
            cpu.LoadSegment(seg, ds);
        d.ExitToGuest(new GuestFrame(entry, cs, RFlags.IF | RFlags.Reserved1, sod.StackTop, ss));
    }
}
