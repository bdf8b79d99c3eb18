using System.Buffers.Binary;
using System.Text;

namespace Xtf.Tests.Toolstack;

/// <summary>
/// A small ELF executable writer for the toolstack tests (System V gABI, "ELF Header", "Program
/// Header", "Note Section"; x86-64 psABI for e_machine). Layout: the ELF header, the program
/// header table right after it, the note data, the PT_LOAD contents (each 16-byte aligned in the
/// file, p_align 16), the symbol and string tables if any, and a section header table when there
/// are sections (null section, then an SHT_NOTE when the notes are to be found through sections
/// only, then SHT_SYMTAB and the SHT_STRTAB it links to). Knobs at the end produce malformed files.
/// </summary>
internal sealed record TestElf
{
    /// <summary>gABI e_type ET_EXEC.</summary>
    public const ushort EtExec = 2;

    /// <summary>gABI e_machine EM_386.</summary>
    public const ushort Em386 = 3;

    /// <summary>gABI e_machine EM_X86_64.</summary>
    public const ushort EmX8664 = 62;

    private const uint PtLoad = 1, PtNote = 4, ShtSymtab = 2, ShtStrtab = 3, ShtNote = 7;

    /// <summary>sh_name given to the symbol table's header (no section name table is written; the value only shows the header is copied).</summary>
    public const uint SymtabName = 0x11;

    /// <summary>sh_info given to the symbol table's header (gABI: one past the last local symbol).</summary>
    public const uint SymtabInfo = 1;

    /// <summary>A PT_LOAD: <see cref="Data"/> in the file, <see cref="MemorySize"/> in memory (0 means Data.Length).</summary>
    public sealed record Segment(ulong PhysicalAddress, byte[] Data, ulong MemorySize = 0)
    {
        /// <summary>p_vaddr; null means the same as p_paddr.</summary>
        public ulong? VirtualAddress { get; init; }
    }

    /// <summary>One note: owner (written with its NUL), n_type, descriptor.</summary>
    public sealed record Note(string Name, uint Type, byte[] Descriptor)
    {
        /// <summary>A "Xen" note holding a little-endian number of <paramref name="size"/> bytes (public/elfnote.h: numeric notes).</summary>
        public static Note XenNumber(uint type, ulong value, int size = 8)
        {
            var d = new byte[size];
            for (int i = 0; i < size; i++)
                d[i] = (byte)(value >> (8 * i));
            return new Note("Xen", type, d);
        }

        /// <summary>A "Xen" note holding a NUL-terminated string (public/elfnote.h: string notes).</summary>
        public static Note XenText(uint type, string value) => new("Xen", type, [.. Encoding.ASCII.GetBytes(value), 0]);
    }

    /// <summary>ELFCLASS64 (else ELFCLASS32).</summary>
    public bool Elf64 { get; init; }

    /// <summary>e_machine, independent of the class (upstream XTF's hvm64 images are elf32-x86-64).</summary>
    public ushort Machine { get; init; } = Em386;

    /// <summary>e_entry.</summary>
    public ulong Entry { get; init; }

    /// <summary>The PT_LOAD segments, in order.</summary>
    public IReadOnlyList<Segment> Segments { get; init; } = [];

    /// <summary>The notes, in one PT_NOTE segment (or an SHT_NOTE section, see <see cref="NotesInSectionOnly"/>).</summary>
    public IReadOnlyList<Note> Notes { get; init; } = [];

    /// <summary>Put the notes in an SHT_NOTE section and write no PT_NOTE (libelf then reads sections).</summary>
    public bool NotesInSectionOnly { get; init; }

    /// <summary>An SHT_SYMTAB section of these bytes and the SHT_STRTAB it links to (written after the PT_LOAD data, not loaded by any segment).</summary>
    public (byte[] Symbols, byte[] Strings)? SymbolTable { get; init; }

    // --- Knobs for malformed output ---

    /// <summary>e_ident[EI_MAG0..3]; gABI: 0x7f 'E' 'L' 'F'.</summary>
    public byte[] Magic { get; init; } = [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>e_ident[EI_CLASS]; null means 1 or 2 from <see cref="Elf64"/>.</summary>
    public byte? Class { get; init; }

    /// <summary>e_ident[EI_DATA]: 1 ELFDATA2LSB, 2 ELFDATA2MSB.</summary>
    public byte DataEncoding { get; init; } = 1;

    /// <summary>e_type.</summary>
    public ushort Type { get; init; } = EtExec;

    /// <summary>Replaces the PT_NOTE segment's contents with these bytes (e.g. a note whose sizes lie).</summary>
    public byte[]? RawNoteSegment { get; init; }

    /// <summary>e_phnum override (0: no program headers).</summary>
    public ushort? ProgramHeaderCount { get; init; }

    /// <summary>e_phentsize override.</summary>
    public ushort? ProgramHeaderEntrySize { get; init; }

    /// <summary>p_filesz of PT_LOAD segment i is written as this instead of Data.Length (the data stays).</summary>
    public (int Index, ulong FileSize)? FileSizeOverride { get; init; }

    /// <summary>The symbol table's sh_link written as this instead of the string table's index.</summary>
    public uint? SymtabLink { get; init; }

    /// <summary>The string table's sh_type written as this instead of SHT_STRTAB.</summary>
    public uint? StrtabType { get; init; }

    /// <summary>The symbol table's sh_size written as this instead of its length.</summary>
    public ulong? SymtabSize { get; init; }

    /// <summary>Cut the file to this many bytes.</summary>
    public int? TruncateTo { get; init; }

    private int HeaderSize => Elf64 ? 64 : 52;

    private int PhEntSize => Elf64 ? 56 : 32;

    private int ShEntSize => Elf64 ? 64 : 40;

    /// <summary>The file.</summary>
    public byte[] Build()
    {
        byte[] notes = RawNoteSegment ?? NoteBytes(Notes);
        bool notePh = !NotesInSectionOnly && (Notes.Count != 0 || RawNoteSegment is not null);
        int phnum = Segments.Count + (notePh ? 1 : 0);
        int phoff = HeaderSize;
        int at = Align(phoff + (phnum * PhEntSize), 16);
        int notesAt = at;
        at = Align(at + notes.Length, 16);
        var dataAt = new int[Segments.Count];
        for (int i = 0; i < Segments.Count; i++)
        {
            dataAt[i] = at;
            at = Align(at + Segments[i].Data.Length, 16);
        }

        bool noteSection = NotesInSectionOnly && notes.Length != 0;
        int symbolsAt = at, stringsAt = at;
        if (SymbolTable is { } table)
        {
            stringsAt = Align(symbolsAt + table.Symbols.Length, 16);
            at = Align(stringsAt + table.Strings.Length, 16);
        }

        int shnum = noteSection || SymbolTable is not null ? 1 + (noteSection ? 1 : 0) + (SymbolTable is not null ? 2 : 0) : 0;
        int shoff = shnum != 0 ? at : 0;
        int size = at + (shnum * ShEntSize);
        var f = new byte[size];

        // e_ident (gABI "ELF Identification"): magic, class, data, EI_VERSION EV_CURRENT.
        Magic.CopyTo(f, 0);
        f[4] = Class ?? (byte)(Elf64 ? 2 : 1);
        f[5] = DataEncoding;
        f[6] = 1;
        U16(f, 16, Type);
        U16(f, 18, Machine);
        U32(f, 20, 1);
        Word(f, 24, Entry);
        Word(f, Elf64 ? 32 : 28, (ulong)phoff);
        Word(f, Elf64 ? 40 : 32, (ulong)shoff);
        U16(f, Elf64 ? 52 : 40, (ushort)HeaderSize);
        U16(f, Elf64 ? 54 : 42, ProgramHeaderEntrySize ?? (ushort)PhEntSize);
        U16(f, Elf64 ? 56 : 44, ProgramHeaderCount ?? (ushort)phnum);
        U16(f, Elf64 ? 58 : 46, (ushort)(shnum != 0 ? ShEntSize : 0));
        U16(f, Elf64 ? 60 : 48, (ushort)shnum);

        int ph = phoff;
        for (int i = 0; i < Segments.Count; i++)
        {
            var s = Segments[i];
            ulong filesz = FileSizeOverride is { } o && o.Index == i ? o.FileSize : (ulong)s.Data.Length;
            ulong memsz = s.MemorySize != 0 ? s.MemorySize : (ulong)s.Data.Length;
            ProgramHeader(f, ph, PtLoad, (ulong)dataAt[i], s.VirtualAddress ?? s.PhysicalAddress, s.PhysicalAddress, filesz, memsz);
            s.Data.CopyTo(f, dataAt[i]);
            ph += PhEntSize;
        }

        if (notePh)
            ProgramHeader(f, ph, PtNote, (ulong)notesAt, 0, 0, (ulong)notes.Length, 0);
        notes.CopyTo(f, notesAt);
        // Section 0 is SHN_UNDEF (all zero), then SHT_NOTE, SHT_SYMTAB, SHT_STRTAB (gABI "Sections").
        int index = 1;
        if (noteSection)
            SectionHeader(f, shoff + (index++ * ShEntSize), ShtNote, (ulong)notesAt, (ulong)notes.Length, 0, 0, 4, 0, 0);
        if (SymbolTable is { } t)
        {
            t.Symbols.CopyTo(f, symbolsAt);
            t.Strings.CopyTo(f, stringsAt);
            int strtab = index + 1;
            SectionHeader(f, shoff + (index * ShEntSize), ShtSymtab, (ulong)symbolsAt, SymtabSize ?? (ulong)t.Symbols.Length, SymtabLink ?? (uint)strtab, SymtabInfo, Elf64 ? 8ul : 4ul, Elf64 ? 24ul : 16ul, SymtabName);
            SectionHeader(f, shoff + (strtab * ShEntSize), StrtabType ?? ShtStrtab, (ulong)stringsAt, (ulong)t.Strings.Length, 0, 0, 1, 0, 0);
        }

        return TruncateTo is { } n ? f[..n] : f;
    }

    /// <summary>Elf_Nhdr (namesz, descsz, type) then name and desc, each padded to 4 bytes (gABI "Note Section"; Xen's notes are 4-byte aligned in both classes).</summary>
    public static byte[] NoteBytes(IEnumerable<Note> notes)
    {
        var list = new List<byte>();
        foreach (var n in notes)
        {
            byte[] name = [.. Encoding.ASCII.GetBytes(n.Name), 0];
            var h = new byte[12];
            BinaryPrimitives.WriteUInt32LittleEndian(h, (uint)name.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(4), (uint)n.Descriptor.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), n.Type);
            list.AddRange(h);
            list.AddRange(name);
            list.AddRange(new byte[Align(name.Length, 4) - name.Length]);
            list.AddRange(n.Descriptor);
            list.AddRange(new byte[Align(n.Descriptor.Length, 4) - n.Descriptor.Length]);
        }

        return [.. list];
    }

    private void ProgramHeader(byte[] f, int at, uint type, ulong offset, ulong vaddr, ulong paddr, ulong filesz, ulong memsz)
    {
        // gABI Elf32_Phdr: type, offset, vaddr, paddr, filesz, memsz, flags, align;
        // Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align.
        U32(f, at, type);
        if (Elf64)
        {
            U32(f, at + 4, 7);
            U64(f, at + 8, offset);
            U64(f, at + 16, vaddr);
            U64(f, at + 24, paddr);
            U64(f, at + 32, filesz);
            U64(f, at + 40, memsz);
            U64(f, at + 48, 16);
        }
        else
        {
            U32(f, at + 4, (uint)offset);
            U32(f, at + 8, (uint)vaddr);
            U32(f, at + 12, (uint)paddr);
            U32(f, at + 16, (uint)filesz);
            U32(f, at + 20, (uint)memsz);
            U32(f, at + 24, 7);
            U32(f, at + 28, 16);
        }
    }

    /// <summary>gABI Elf32_Shdr: name, type, flags, addr, offset, size, link, info, addralign, entsize (words 32-bit); Elf64_Shdr: the same with flags, addr, offset, size, addralign, entsize 64-bit.</summary>
    private void SectionHeader(byte[] f, int at, uint type, ulong offset, ulong size, uint link, uint info, ulong align, ulong entsize, uint name)
    {
        U32(f, at, name);
        U32(f, at + 4, type);
        int w = Elf64 ? 8 : 4;
        int o = 8 + (2 * w);
        Word(f, at + o, offset);
        Word(f, at + o + w, size);
        U32(f, at + o + (2 * w), link);
        U32(f, at + o + (2 * w) + 4, info);
        Word(f, at + o + (2 * w) + 8, align);
        Word(f, at + o + (3 * w) + 8, entsize);
    }

    private static int Align(int n, int a) => (n + a - 1) & ~(a - 1);

    private void Word(byte[] f, int at, ulong v)
    {
        if (Elf64)
            U64(f, at, v);
        else
            U32(f, at, (uint)v);
    }

    private static void U16(byte[] f, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(at), v);

    private static void U32(byte[] f, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(at), v);

    private static void U64(byte[] f, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(f.AsSpan(at), v);
}
