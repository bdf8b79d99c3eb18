using System.Buffers.Binary;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>A PT_LOAD program header: <see cref="FileSize"/> bytes from <see cref="Offset"/>, zero-filled to <see cref="MemorySize"/>.</summary>
/// <param name="Offset">p_offset.</param>
/// <param name="VirtualAddress">p_vaddr.</param>
/// <param name="PhysicalAddress">p_paddr.</param>
/// <param name="FileSize">p_filesz.</param>
/// <param name="MemorySize">p_memsz.</param>
public sealed record ElfSegment(ulong Offset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize, ulong MemorySize);

/// <summary>One ELF note (namesz, descsz, type, name, desc), from a PT_NOTE segment or SHT_NOTE section.</summary>
/// <param name="Name">The owner, without its NUL ("Xen").</param>
/// <param name="Type">n_type.</param>
/// <param name="Descriptor">The note's descriptor bytes.</param>
public sealed record ElfNote(string Name, uint Type, byte[] Descriptor);

/// <summary>One section header (gABI "Sections"): its index, the file offset of the header itself, and the fields a domain builder reads.</summary>
/// <param name="Index">The section's index in the section header table.</param>
/// <param name="HeaderOffset">Where the header lies in the file (its Elf32_Shdr or Elf64_Shdr, of the class's size).</param>
/// <param name="Type">sh_type.</param>
/// <param name="Offset">sh_offset.</param>
/// <param name="Size">sh_size.</param>
/// <param name="Link">sh_link.</param>
public sealed record ElfSection(int Index, int HeaderOffset, uint Type, ulong Offset, ulong Size, uint Link);

/// <summary>The symbol table and the string table its sh_link names, both checked to lie within the file.</summary>
/// <param name="Symbols">The SHT_SYMTAB section.</param>
/// <param name="Strings">The SHT_STRTAB section it links to.</param>
public sealed record ElfSymbolTable(ElfSection Symbols, ElfSection Strings);

/// <summary>
/// The parts of an x86 ELF executable a Xen domain builder reads (libelf's elf_init and
/// elf_xen_parse): class, machine, entry, PT_LOAD segments and notes. ELF32 and ELF64, little
/// endian, EM_386 or EM_X86_64 in either class (XTF's hvm64 images are elf32-x86-64). Every
/// structural error is an <see cref="ElfFormatException"/> naming what is wrong.
/// </summary>
public sealed class ElfImage
{
    private const ushort EtExec = 2;
    private const ushort Em386 = 3, EmX8664 = 62;
    private const uint PtLoad = 1, PtNote = 4;
    private const uint ShtSymtab = 2, ShtStrtab = 3, ShtNote = 7;

    private ulong shoff;
    private int shentsize, shnum;

    private ElfImage(byte[] bytes) => Bytes = bytes;

    /// <summary>The whole file.</summary>
    public byte[] Bytes { get; }

    /// <summary>ELFCLASS64 (otherwise ELFCLASS32).</summary>
    public bool Is64BitClass { get; private set; }

    /// <summary>e_machine is EM_X86_64 (otherwise EM_386).</summary>
    public bool IsX8664Machine { get; private set; }

    /// <summary>e_entry.</summary>
    public ulong Entry { get; private set; }

    /// <summary>The PT_LOAD segments in file order, each checked to lie within the file.</summary>
    public IReadOnlyList<ElfSegment> Segments { get; private set; } = [];

    /// <summary>Every note of the PT_NOTE segments, or if there are none, of the SHT_NOTE sections (libelf's fallback).</summary>
    public IReadOnlyList<ElfNote> Notes { get; private set; } = [];

    /// <summary>The class's Elf32_Shdr (40 bytes) or Elf64_Shdr (64 bytes) size.</summary>
    public int SectionHeaderSize => Is64BitClass ? 64 : 40;

    /// <summary>The class's Elf32_Ehdr (52 bytes) or Elf64_Ehdr (64 bytes) size.</summary>
    public int HeaderSize => Is64BitClass ? 64 : 52;

    /// <summary>Parses <paramref name="bytes"/>; throws <see cref="ElfFormatException"/> for anything a domain builder would refuse.</summary>
    public static ElfImage Parse(byte[] bytes)
    {
        var image = new ElfImage(bytes);
        image.ParseHeader();
        return image;
    }

    private void ParseHeader()
    {
        var b = Bytes;
        if (b.Length < 16 || b[0] != 0x7F || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
            throw new ElfFormatException("not an ELF file (no \\x7fELF magic)");
        Is64BitClass = b[4] switch
        {
            1 => false,
            2 => true,
            _ => throw new ElfFormatException($"unknown ELF class {b[4]}"),
        };
        if (b[5] != 1)
            throw new ElfFormatException("not a little-endian ELF file");
        int headerSize = Is64BitClass ? 64 : 52;
        if (b.Length < headerSize)
            throw new ElfFormatException($"truncated ELF header ({b.Length} bytes of {headerSize})");
        ushort type = U16(16), machine = U16(18);
        if (type != EtExec)
            throw new ElfFormatException($"not an executable (e_type {type})");
        if (machine is not (Em386 or EmX8664))
            throw new ElfFormatException($"not an x86 image (e_machine {machine})");
        IsX8664Machine = machine == EmX8664;
        Entry = Word(24);
        ulong phoff = Word(Is64BitClass ? 32 : 28);
        shoff = Word(Is64BitClass ? 40 : 32);
        int phentsize = U16(Is64BitClass ? 54 : 42), phnum = U16(Is64BitClass ? 56 : 44);
        shentsize = U16(Is64BitClass ? 58 : 46);
        shnum = U16(Is64BitClass ? 60 : 48);

        // libelf elf_shdr_count: at most one Elf32_Shdr per 40 bytes of file ("far too many section headers").
        shnum = Math.Min(shnum, b.Length / 40);
        if (phnum == 0)
            throw new ElfFormatException("no program headers");
        if (phentsize < (Is64BitClass ? 56 : 32))
            throw new ElfFormatException($"program header entries of {phentsize} bytes are too small");
        CheckRange(phoff, (ulong)phentsize * (ulong)phnum, "the program header table");

        // libelf elf_init: "shdr overflow" unless e_shoff + e_shentsize * e_shnum lies in the file.
        CheckRange(shoff, (ulong)shentsize * (ulong)shnum, "the section header table");

        var segments = new List<ElfSegment>();
        var notes = new List<ElfNote>();
        for (int i = 0; i < phnum; i++)
        {
            int at = (int)phoff + (i * phentsize);
            uint ptype = U32(at);
            ElfSegment s = Is64BitClass
                ? new(U64(at + 8), U64(at + 16), U64(at + 24), U64(at + 32), U64(at + 40))
                : new(U32(at + 4), U32(at + 8), U32(at + 12), U32(at + 16), U32(at + 20));
            if (ptype == PtLoad)
            {
                CheckRange(s.Offset, s.FileSize, $"PT_LOAD segment {i}");
                if (s.FileSize > s.MemorySize)
                    throw new ElfFormatException($"PT_LOAD segment {i} has p_filesz 0x{s.FileSize:x} above p_memsz 0x{s.MemorySize:x}");
                segments.Add(s);
            }
            else if (ptype == PtNote)
            {
                CheckRange(s.Offset, s.FileSize, $"PT_NOTE segment {i}");
                ReadNotes(s.Offset, s.FileSize, notes, $"PT_NOTE segment {i}");
            }
        }

        if (segments.Count == 0)
            throw new ElfFormatException("no PT_LOAD segment");
        if (notes.Count == 0 && shnum != 0 && shentsize >= SectionHeaderSize)
            ReadSectionNotes(notes);
        Segments = segments;
        Notes = notes;
    }

    private void ReadSectionNotes(List<ElfNote> notes)
    {
        for (int i = 0; i < shnum; i++)
        {
            var s = Section(i);
            if (s.Type != ShtNote)
                continue;
            CheckRange(s.Offset, s.Size, $"note section {i}");
            ReadNotes(s.Offset, s.Size, notes, $"note section {i}");
        }
    }

    /// <summary>Section header <paramref name="index"/> (Elf32_Shdr: sh_type @4, sh_offset @16, sh_size @20, sh_link @24; Elf64_Shdr: @4, @24, @32, @40). The table was checked to lie in the file.</summary>
    private ElfSection Section(int index)
    {
        int at = (int)shoff + (index * shentsize);
        return Is64BitClass
            ? new(index, at, U32(at + 4), U64(at + 24), U64(at + 32), U32(at + 40))
            : new(index, at, U32(at + 4), U32(at + 16), U32(at + 20), U32(at + 24));
    }

    /// <summary>
    /// The symbol table as libelf's elf_init finds it: the first SHT_SYMTAB among sections 1 ..
    /// e_shnum - 1, and the section its sh_link names. Null if there is none (a stripped image).
    /// Where libelf only marks the image broken and loads no table (sh_link SHN_UNDEF or past the
    /// table, a link to a section that is not SHT_STRTAB, section contents beyond the file:
    /// elf_init, elf_parse_bsdsyms, elf_memcpy_safe), this is an <see cref="ElfFormatException"/>,
    /// so that a malformed table is one clear reason rather than a guest that finds no table.
    /// </summary>
    public ElfSymbolTable? FindSymbolTable()
    {
        if (shnum != 0 && shentsize < SectionHeaderSize)
            throw new ElfFormatException($"section header entries of {shentsize} bytes are too small");
        for (int i = 1; i < shnum; i++)
        {
            var symbols = Section(i);
            if (symbols.Type != ShtSymtab)
                continue;
            if (symbols.Link == 0 || symbols.Link >= (uint)shnum)
                throw new ElfFormatException($"SHT_SYMTAB section {i} links to section {symbols.Link}, not a section of the table (e_shnum {shnum})");
            var strings = Section((int)symbols.Link);
            if (strings.Type != ShtStrtab)
                throw new ElfFormatException($"SHT_SYMTAB section {i} links to section {strings.Index} of type {strings.Type}, not SHT_STRTAB");
            CheckRange(symbols.Offset, symbols.Size, $"SHT_SYMTAB section {i}");
            CheckRange(strings.Offset, strings.Size, $"SHT_STRTAB section {strings.Index}");
            return new ElfSymbolTable(symbols, strings);
        }

        return null;
    }

    /// <summary>Elf_Nhdr entries; name and descriptor each padded to 4 bytes (as Xen's notes are, in both classes).</summary>
    private void ReadNotes(ulong offset, ulong size, List<ElfNote> notes, string where)
    {
        ulong at = offset, end = offset + size;
        while (at + 12 <= end)
        {
            uint namesz = U32((int)at), descsz = U32((int)at + 4), type = U32((int)at + 8);
            ulong name = at + 12;
            ulong desc = name + Align4(namesz);
            ulong next = desc + Align4(descsz);
            if (next > end)
                throw new ElfFormatException($"{where}: a note runs past its end");
            int nameLength = (int)namesz;
            while (nameLength > 0 && Bytes[(int)name + nameLength - 1] == 0)
                nameLength--;
            string owner = System.Text.Encoding.ASCII.GetString(Bytes, (int)name, nameLength);
            notes.Add(new ElfNote(owner, type, Bytes.AsSpan((int)desc, (int)descsz).ToArray()));
            at = next;
        }
    }

    private static ulong Align4(uint n) => ((ulong)n + 3) & ~3ul;

    private void CheckRange(ulong offset, ulong length, string what)
    {
        if (offset > (ulong)Bytes.Length || length > (ulong)Bytes.Length - offset)
            throw new ElfFormatException($"{what} (0x{offset:x}+0x{length:x}) lies beyond the end of the file ({Bytes.Length} bytes): truncated image");
    }

    private ushort U16(int at) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(at));

    private uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(at));

    private ulong U64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(at));

    private ulong Word(int at) => Is64BitClass ? U64(at) : U32(at);
}

/// <summary>An image a domain builder refuses: not ELF, truncated, or with segments or notes it cannot use.</summary>
public sealed class ElfFormatException(string message) : Exception(message);
