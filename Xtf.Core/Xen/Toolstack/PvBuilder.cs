using Xtf.Core.Machine;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Builder;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>
/// libxenguest's PV build from a kernel image (xc_dom_elfloader, then the x86 PV builder):
/// the guest type from the ELF class and PAE note, the segments placed by libelf's address
/// rules, then <see cref="PvDomainBuilder"/> with the entry and hypercall page the notes give.
/// </summary>
public static class PvBuilder
{
    /// <summary>
    /// The guest type libxc's elfloader derives (xc_dom_guest_type): an ELF64 EM_X86_64 image is
    /// <c>xen-3.0-x86_64</c>; an ELF32 EM_386 image with XEN_ELFNOTE_PAE_MODE "yes" (or
    /// "bimodal") is <c>xen-3.0-x86_32p</c>. Anything else is refused: non-PAE 32-bit PV has been
    /// gone since Xen 3.3, and a Xen note is required at all.
    /// </summary>
    public static bool Is64Bit(ElfImage elf, XenElfNotes notes)
    {
        if (!notes.Any)
            throw new DomainBuildException("no Xen ELF notes: not a PV kernel");
        if (elf.Is64BitClass && elf.IsX8664Machine)
            return true;
        if (!elf.Is64BitClass && !elf.IsX8664Machine)
        {
            if (notes.PaeMode is not ("yes" or "bimodal" or "yes,bimodal"))
                throw new DomainBuildException($"a 32-bit PV kernel without XEN_ELFNOTE_PAE_MODE \"yes\" (got \"{notes.PaeMode}\"): non-PAE PV guests are not supported");
            return false;
        }

        throw new DomainBuildException($"an ELF{(elf.Is64BitClass ? 64 : 32)} image for {(elf.IsX8664Machine ? "x86-64" : "i386")} is not a PV kernel type Xen knows");
    }

    /// <summary>
    /// Loads <paramref name="elf"/> into <paramref name="d"/>'s pseudo-physical memory and builds the
    /// domain around it (start_info command line <paramref name="cmdline"/>). libelf's rules:
    /// virt_base = XEN_ELFNOTE_VIRT_BASE or 0, paddr_offset = XEN_ELFNOTE_PADDR_OFFSET or
    /// virt_base, each segment at p_paddr - paddr_offset, entry = XEN_ELFNOTE_ENTRY or e_entry.
    /// Only virt_base 0 is modelled (our builder maps virtual = pseudo-physical). With
    /// XEN_ELFNOTE_BSD_SYMTAB the symbol table follows the image (<see cref="BsdSymtab"/>).
    /// </summary>
    public static PvStartOfDay Build(PvDomain d, ElfImage elf, XenElfNotes notes, string cmdline)
    {
        ulong virtBase = notes.VirtBase ?? 0;
        ulong paddrOffset = notes.PaddrOffset ?? virtBase;
        if (virtBase != 0)
            throw new DomainBuildException($"XEN_ELFNOTE_VIRT_BASE 0x{virtBase:x} is not modelled: only kernels linked at virtual = pseudo-physical (virt_base 0) load here");
        ulong ram = d.GuestFrames * PhysicalMemory.FrameSize;
        var image = ImageLoader.Load(d.Memory, elf, paddrOffset, ram, "the guest's pseudo-physical RAM");
        if (notes.BsdSymtab)
            image = LoadSymbolTable(d.Memory, elf, image, ram);
        ulong imageEnd = image.End;

        // libelf elf_xen_addr_calc_check: "ELF start or entries are out of bounds" unless the
        // entry lies in [virt_kstart, virt_kend).
        ulong entry = notes.Entry ?? elf.Entry;
        if (!image.Contains(entry))
            throw new DomainBuildException($"the entry point 0x{entry:x} lies outside the loaded image [0x{image.Start:x}, 0x{image.End:x})");
        ulong hypercallPage = notes.HypercallPage ?? 0;
        if (notes.HypercallPage is { } hp && (!image.Contains(hp) || (hp & 0xFFF) != 0))
            throw new DomainBuildException($"XEN_ELFNOTE_HYPERCALL_PAGE 0x{hp:x} is not a page of the loaded image");
        try
        {
            return PvDomainBuilder.Build(d, new PvKernelImage(entry, hypercallPage, imageEnd, cmdline));
        }
        catch (InvalidOperationException e)
        {
            throw new DomainBuildException(e.Message);
        }
    }

    /// <summary>
    /// XEN_ELFNOTE_BSD_SYMTAB "yes": libelf's elf_xen_addr_calc_check lays the symbol table out
    /// after the image and makes its end the kernel's end (virt_kend = bsd_symtab_pend), so libxc's
    /// kernel segment (xc_dom_build_image: xc_dom_alloc_segment from virt_kstart to virt_kend, whole
    /// pages) covers it and everything the builder allocates next (p2m list, start_info, xenstore
    /// and console pages, page tables, boot stack) follows it; elf_load_binary then copies it into
    /// that segment. Without a symbol table the image is unchanged.
    /// </summary>
    private static LoadedImage LoadSymbolTable(PhysicalMemory memory, ElfImage elf, LoadedImage image, ulong ram)
    {
        if (BsdSymtab.Layout(elf, image.End) is not { } area)
            return image;
        if (area.End > ram)
            throw new DomainBuildException($"the BSD symbol table area [0x{area.Start:x}, 0x{area.End:x}) lies beyond the guest's pseudo-physical RAM (0x{ram:x})");
        ulong pages = (area.End - image.Start + PhysicalMemory.FrameSize - 1) / PhysicalMemory.FrameSize;
        ulong segmentEnd = Math.Min(image.Start + (pages * PhysicalMemory.FrameSize), ram);
        BsdSymtab.Load(memory, elf, area, image.Start, segmentEnd);
        return image with { End = area.End };
    }
}
