using System.Buffers.Binary;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>Where the BSD symbol table area lies: [<paramref name="Start"/>, <paramref name="End"/>), the range libelf reserves (bsd_symtab_pstart .. bsd_symtab_pend).</summary>
/// <param name="Start">The size word's address: the image's end rounded up to the class's word.</param>
/// <param name="End">The reserved end, which becomes the kernel's end (virt_kend).</param>
/// <param name="Table">The sections the area carries.</param>
public sealed record BsdSymtabArea(ulong Start, ulong End, ElfSymbolTable Table);

/// <summary>
/// The symbol table a kernel asks for with XEN_ELFNOTE_BSD_SYMTAB "yes", placed after the image
/// as libelf does it (xen/common/libelf/libelf-loader.c, elf_parse_bsdsyms and elf_load_bsdsyms):
/// a 32-bit size word, then an ELF header of the image's class describing only three sections
/// (SHN_UNDEF, the symbol table, its string table), their section headers, and the two sections'
/// contents. libelf builds the headers in <c>struct elf_sym_header</c>, a packed struct of the size
/// word, an <c>elf_ehdr</c> union and three <c>elf_shdr</c> unions: the unions are the size of the
/// 64-bit structures (64 bytes each) whatever the class, which fixes several offsets below, and
/// the struct is zeroed first (elf_set_xdest, since the XSA-194 fix, Xen commit fb08f7d009).
/// </summary>
public static class BsdSymtab
{
    /// <summary>ELF_BSDSYM_SECTIONS: SHN_UNDEF, the symbol table, the string table.</summary>
    private const int Sections = 3;

    /// <summary>sizeof(elf_ehdr) and sizeof(elf_shdr): the unions are as large as Elf64_Ehdr and Elf64_Shdr.</summary>
    private const int UnionSize = 64;

    /// <summary>offsetof(struct elf_sym_header, elf_header.section): the size word and the ELF header union.</summary>
    private const int SectionsAt = 4 + UnionSize;

    /// <summary>sizeof(struct elf_sym_header).</summary>
    private const int HeaderStructSize = SectionsAt + (Sections * UnionSize);

    private const int SymtabIndex = 1, StrtabIndex = 2;

    /// <summary>
    /// elf_parse_bsdsyms: the area after <paramref name="imageEnd"/> (libelf's pend), or null if
    /// the image has no symbol table (libelf marks the image broken and reserves nothing, so the
    /// domain is built as without the note). Every step rounds up to the class's word
    /// (elf_round_up: 4 bytes for ELFCLASS32, 8 for ELFCLASS64): start = round(pend); size =
    /// round(round(round(4 + offsetof(elf_sym_header, elf_header.section) + 3 * sizeof(ElfN_Shdr))
    /// + symtab sh_size) + strtab sh_size). The size word is counted twice there, once alone and
    /// once in the offsetof; that is libelf's arithmetic, kept.
    /// </summary>
    public static BsdSymtabArea? Layout(ElfImage elf, ulong imageEnd)
    {
        if (elf.FindSymbolTable() is not { } table)
            return null;
        ulong start = RoundUp(elf, imageEnd);
        ulong size = RoundUp(elf, 4ul + SectionsAt + (ulong)(Sections * elf.SectionHeaderSize));
        size = RoundUp(elf, size + table.Symbols.Size);
        size = RoundUp(elf, size + table.Strings.Size);
        return new BsdSymtabArea(start, start + size, table);
    }

    /// <summary>
    /// elf_load_bsdsyms: writes the area into <paramref name="memory"/>. The size word at Start,
    /// the ELF header at Start + 4 (copied from the image's, then e_ehsize, e_shentsize, e_version
    /// EV_CURRENT, e_shoff 64, e_shnum 3 set and e_phoff, e_phentsize, e_phnum, e_shstrndx cleared),
    /// zero to Start + 68, then the three section headers packed at the class's size (section 0
    /// zero; 1 the symbol table's, sh_link 2; 2 the string table's; each sh_offset made relative to
    /// the ELF header), the symbol table at round(Start + sizeof(elf_sym_header) = 260), the string
    /// table at round(its end). The size word is the string table's end minus the ELF header's
    /// address. For ELFCLASS32 the load runs 68 bytes past the reserved End (the offsets use the
    /// 64-byte unions, the reservation does not); libelf's elf_memcpy_safe skips any copy whose
    /// destination is not wholly inside the kernel segment [<paramref name="segmentStart"/>,
    /// <paramref name="segmentEnd"/>) (libxc allocates it in whole pages), and so does this.
    /// </summary>
    public static void Load(PhysicalMemory memory, ElfImage elf, BsdSymtabArea area, ulong segmentStart, ulong segmentEnd)
    {
        bool wide = elf.Is64BitClass;
        int ehdrSize = elf.HeaderSize, shdrSize = elf.SectionHeaderSize;
        var (symbols, strings) = (area.Table.Symbols, area.Table.Strings);
        ulong elfHeader = area.Start + 4;
        ulong symtabAt = RoundUp(elf, area.Start + HeaderStructSize);
        ulong strtabAt = RoundUp(elf, symtabAt + symbols.Size);

        var header = new byte[HeaderStructSize];
        var ehdr = header.AsSpan(4, UnionSize);
        elf.Bytes.AsSpan(0, ehdrSize).CopyTo(ehdr);

        // Elf32_Ehdr / Elf64_Ehdr (gABI "ELF Header"): e_version @20; e_phoff @28/@32; e_shoff
        // @32/@40; e_ehsize @40/@52, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx after it.
        int halves = wide ? 52 : 40;
        BinaryPrimitives.WriteUInt32LittleEndian(ehdr[20..], 1);
        Word(ehdr, wide ? 32 : 28, 0, wide);
        Word(ehdr, wide ? 40 : 32, UnionSize, wide);
        BinaryPrimitives.WriteUInt16LittleEndian(ehdr[halves..], (ushort)ehdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(ehdr[(halves + 2)..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(ehdr[(halves + 4)..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(ehdr[(halves + 6)..], (ushort)shdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(ehdr[(halves + 8)..], Sections);
        BinaryPrimitives.WriteUInt16LittleEndian(ehdr[(halves + 10)..], 0);

        // Elf32_Shdr / Elf64_Shdr: sh_offset @16/@24 (a word), sh_link @24/@40 (32 bits).
        var symtabHeader = header.AsSpan(SectionsAt + (SymtabIndex * UnionSize), shdrSize);
        elf.Bytes.AsSpan(symbols.HeaderOffset, shdrSize).CopyTo(symtabHeader);
        Word(symtabHeader, wide ? 24 : 16, symtabAt - elfHeader, wide);
        BinaryPrimitives.WriteUInt32LittleEndian(symtabHeader[(wide ? 40 : 24)..], StrtabIndex);
        var strtabHeader = header.AsSpan(SectionsAt + (StrtabIndex * UnionSize), shdrSize);
        elf.Bytes.AsSpan(strings.HeaderOffset, shdrSize).CopyTo(strtabHeader);
        Word(strtabHeader, wide ? 24 : 16, strtabAt - elfHeader, wide);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)(strtabAt + strings.Size - elfHeader));

        void Copy(ulong at, ReadOnlySpan<byte> data)
        {
            if (at >= segmentStart && at <= segmentEnd && (ulong)data.Length <= segmentEnd - at)
                memory.Write(at, data);
        }

        // libelf's order: the two tables, the size word and ELF header, then each section header
        // at the class's size ("so that the guest can treat this as an array of type Elf{32/64}_Shdr").
        Copy(symtabAt, elf.Bytes.AsSpan((int)symbols.Offset, (int)symbols.Size));
        Copy(strtabAt, elf.Bytes.AsSpan((int)strings.Offset, (int)strings.Size));
        Copy(area.Start, header.AsSpan(0, SectionsAt));
        for (int i = 0; i < Sections; i++)
            Copy(area.Start + SectionsAt + (ulong)(i * shdrSize), header.AsSpan(SectionsAt + (i * UnionSize), shdrSize));
    }

    /// <summary>elf_round_up: to 8 bytes for ELFCLASS64, 4 for ELFCLASS32.</summary>
    private static ulong RoundUp(ElfImage elf, ulong at)
    {
        ulong mask = elf.Is64BitClass ? 7ul : 3ul;
        return (at + mask) & ~mask;
    }

    private static void Word(Span<byte> s, int at, ulong value, bool wide)
    {
        if (wide)
            BinaryPrimitives.WriteUInt64LittleEndian(s[at..], value);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(s[at..], (uint)value);
    }
}
