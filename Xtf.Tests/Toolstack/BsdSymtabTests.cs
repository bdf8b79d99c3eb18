using System.Buffers.Binary;
using NUnit.Framework;
using Xtf.Core.Machine;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Builder;
using Xtf.Core.Xen.Toolstack;
using static Xtf.Tests.Toolstack.TestGuests;

namespace Xtf.Tests.Toolstack;

/// <summary>
/// XEN_ELFNOTE_BSD_SYMTAB (public/elfnote.h: 11, "yes"): the PV builder puts the symbol table after
/// the image as libelf does (xen/common/libelf/libelf-loader.c, elf_parse_bsdsyms reserves,
/// elf_load_bsdsyms writes; libelf-dominfo.c elf_xen_addr_calc_check makes the reserved end
/// virt_kend, so libxc's allocations after the kernel segment follow it). Every expected address
/// below is worked out by hand from those rules, for an image whose PT_LOAD ends (pend) at
/// 0x104FF1, so each rounding shows: elf_round_up is 4 bytes for ELFCLASS32, 8 for ELFCLASS64;
/// struct elf_sym_header is packed: a uint32_t size, an elf_ehdr union (64 bytes) and three elf_shdr
/// unions (64 bytes each), 260 bytes in all, zeroed before use.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class BsdSymtabTests
{
    private const ulong Pend = Base + 0x4FF1;
    private const ulong Ram = 64ul << 20;

    /// <summary>Three symbols' worth of bytes (Elf32_Sym 16 bytes, Elf64_Sym 24: gABI "Symbol Table"); the contents only need to be recognisable.</summary>
    private static byte[] Symbols(bool wide) => [.. Enumerable.Range(1, wide ? 72 : 48).Select(i => (byte)i)];

    /// <summary>18 bytes: "\0_start\0test_main\0".</summary>
    private static readonly byte[] Strings = [0, .. "_start"u8, 0, .. "test_main"u8, 0];

    private static readonly TestElf.Note BsdSymtabYes = TestElf.Note.XenText(XenElfNotes.BsdSymtabType, "yes");

    private static TestElf Image(Kind kind, bool note = true, bool symbols = true, ulong pend = Pend) => Elf(kind) with
    {
        Segments = [Segment(kind) with { MemorySize = pend - Base }],
        Notes = [.. Notes(kind), .. note ? [BsdSymtabYes] : Array.Empty<TestElf.Note>()],
        SymbolTable = symbols ? (Symbols(kind == Kind.Pv64), Strings) : null,
    };

    private static (PhysicalMemory Memory, PvStartOfDay Sod) Build(TestElf image)
    {
        bool wide = image.Elf64;
        var machine = new VirtualMachine(new MachineOptions { MemoryBytes = Ram + (XenFrames.Reserved * PhysicalMemory.FrameSize), InstructionBudget = 0 });
        var d = new PvDomain(machine, Ram / PhysicalMemory.FrameSize, wide, new HypervisorOptions());
        var elf = ElfImage.Parse(image.Build());
        var sod = PvBuilder.Build(d, elf, XenElfNotes.From(elf.Notes), "");
        return (machine.Memory, sod);
    }

    private static byte[] Read(PhysicalMemory m, ulong at, int n)
    {
        var b = new byte[n];
        m.Read(at, b);
        return b;
    }

    private static uint U32(PhysicalMemory m, ulong at) => BinaryPrimitives.ReadUInt32LittleEndian(Read(m, at, 4));

    private static ushort U16(PhysicalMemory m, ulong at) => BinaryPrimitives.ReadUInt16LittleEndian(Read(m, at, 2));

    private static ulong U64(PhysicalMemory m, ulong at) => BinaryPrimitives.ReadUInt64LittleEndian(Read(m, at, 8));

    /// <summary>
    /// ELFCLASS32. Start = round4(0x104FF1) = 0x104FF4; reserved = round4(round4(round4(4 + 68 +
    /// 3 * 40) + 48) + 18) = 260, End = 0x1050F8. ELF header at Start + 4 = 0x104FF8, zero from its
    /// 52nd byte to Start + 68 = 0x105038 (the XSA-194 padding), section headers at 0x105038 +
    /// 40 * i. Symbols at round4(Start + 260) = 0x1050F8 (sh_offset 0x100), strings at
    /// round4(0x1050F8 + 48) = 0x105128 (sh_offset 0x130), size word 0x105128 + 18 - 0x104FF8 =
    /// 0x142. The kernel segment now ends at page 0x106000, where the p2m list starts (not 0x105000).
    /// </summary>
    [Test]
    public void Pv32LayoutFollowsLibelf()
    {
        var bytes = Image(Kind.Pv32Pae).Build();
        var (m, sod) = Build(Image(Kind.Pv32Pae));
        const ulong start = 0x104FF4, ehdr = 0x104FF8, shdrs = 0x105038, symtab = 0x1050F8, strtab = 0x105128;
        Assert.Multiple(() =>
        {
            Assert.That(Read(m, Pend, 3), Is.EqualTo(new byte[3]), "alignment gap after pend");
            Assert.That(U32(m, start), Is.EqualTo(0x142u), "size word");
            Assert.That(Read(m, ehdr, 16), Is.EqualTo(bytes[..16]), "e_ident copied");
            Assert.That(U16(m, ehdr + 16), Is.EqualTo(TestElf.EtExec), "e_type copied");
            Assert.That(U16(m, ehdr + 18), Is.EqualTo(TestElf.Em386), "e_machine copied");
            Assert.That(U32(m, ehdr + 20), Is.EqualTo(1u), "e_version EV_CURRENT");
            Assert.That(U32(m, ehdr + 24), Is.EqualTo((uint)Base), "e_entry copied");
            Assert.That(U32(m, ehdr + 28), Is.Zero, "e_phoff");
            Assert.That(U32(m, ehdr + 32), Is.EqualTo(64u), "e_shoff: offsetof(elf_header, section), the 64-byte union");
            Assert.That(U16(m, ehdr + 40), Is.EqualTo(52), "e_ehsize");
            Assert.That(U16(m, ehdr + 42), Is.Zero, "e_phentsize");
            Assert.That(U16(m, ehdr + 44), Is.Zero, "e_phnum");
            Assert.That(U16(m, ehdr + 46), Is.EqualTo(40), "e_shentsize");
            Assert.That(U16(m, ehdr + 48), Is.EqualTo(3), "e_shnum");
            Assert.That(U16(m, ehdr + 50), Is.Zero, "e_shstrndx");
            Assert.That(Read(m, ehdr + 52, 12), Is.EqualTo(new byte[12]), "zero between e_ehsize and e_shoff (XSA-194)");
            Assert.That(Read(m, shdrs, 40), Is.EqualTo(new byte[40]), "section 0 is SHN_UNDEF");

            // Elf32_Shdr: name @0, type @4, offset @16, size @20, link @24, info @28, addralign @32, entsize @36.
            ulong sym = shdrs + 40, str = shdrs + 80;
            Assert.That(U32(m, sym), Is.EqualTo(TestElf.SymtabName), "sh_name copied");
            Assert.That(U32(m, sym + 4), Is.EqualTo(2u), "SHT_SYMTAB");
            Assert.That(U32(m, sym + 16), Is.EqualTo(0x100u), "sh_offset from the ELF header");
            Assert.That(U32(m, sym + 20), Is.EqualTo(48u), "sh_size");
            Assert.That(U32(m, sym + 24), Is.EqualTo(2u), "sh_link: section 2");
            Assert.That(U32(m, sym + 28), Is.EqualTo(TestElf.SymtabInfo), "sh_info copied");
            Assert.That(U32(m, sym + 36), Is.EqualTo(16u), "sh_entsize copied");
            Assert.That(U32(m, str + 4), Is.EqualTo(3u), "SHT_STRTAB");
            Assert.That(U32(m, str + 16), Is.EqualTo(0x130u), "strtab sh_offset");
            Assert.That(U32(m, str + 20), Is.EqualTo(18u), "strtab sh_size");
            Assert.That(Read(m, shdrs + 120, (int)(symtab - shdrs - 120)), Is.EqualTo(new byte[symtab - shdrs - 120]), "nothing written between the headers and the symbols");
            Assert.That(Read(m, symtab, 48), Is.EqualTo(Symbols(false)), "symbols");
            Assert.That(Read(m, strtab, 18), Is.EqualTo(Strings), "strings");
            Assert.That(sod.MfnList, Is.EqualTo(0x106000ul), "the p2m list follows the kernel segment, which now ends at round_page(0x1050F8)");
        });
    }

    /// <summary>
    /// ELFCLASS64. Start = round8(0x104FF1) = 0x104FF8; reserved = round8(round8(round8(4 + 68 +
    /// 3 * 64) + 72) + 18) = 360, End = 0x105160. ELF header at 0x104FFC, section headers at
    /// Start + 68 = 0x10503C + 64 * i; symbols at round8(Start + 260) = 0x105100 (sh_offset 0x104),
    /// strings at round8(0x105100 + 72) = 0x105148 (sh_offset 0x14C); size 0x105148 + 18 - 0x104FFC = 0x15E.
    /// </summary>
    [Test]
    public void Pv64LayoutFollowsLibelf()
    {
        var (m, sod) = Build(Image(Kind.Pv64));
        const ulong start = 0x104FF8, ehdr = 0x104FFC, shdrs = 0x10503C, symtab = 0x105100, strtab = 0x105148;
        Assert.Multiple(() =>
        {
            Assert.That(U32(m, start), Is.EqualTo(0x15Eu), "size word");
            Assert.That(Read(m, ehdr, 4), Is.EqualTo("\u007fELF"u8.ToArray()));
            Assert.That(Read(m, ehdr + 4, 1)[0], Is.EqualTo(2), "ELFCLASS64");
            Assert.That(U64(m, ehdr + 24), Is.EqualTo(Base), "e_entry copied");
            Assert.That(U64(m, ehdr + 32), Is.Zero, "e_phoff");
            Assert.That(U64(m, ehdr + 40), Is.EqualTo(64ul), "e_shoff");
            Assert.That(U16(m, ehdr + 52), Is.EqualTo(64), "e_ehsize");
            Assert.That(U16(m, ehdr + 56), Is.Zero, "e_phnum");
            Assert.That(U16(m, ehdr + 58), Is.EqualTo(64), "e_shentsize");
            Assert.That(U16(m, ehdr + 60), Is.EqualTo(3), "e_shnum");
            Assert.That(Read(m, shdrs, 64), Is.EqualTo(new byte[64]), "section 0");

            // Elf64_Shdr: type @4, offset @24, size @32, link @40, entsize @56.
            ulong sym = shdrs + 64, str = shdrs + 128;
            Assert.That(U32(m, sym + 4), Is.EqualTo(2u));
            Assert.That(U64(m, sym + 24), Is.EqualTo(0x104ul));
            Assert.That(U64(m, sym + 32), Is.EqualTo(72ul));
            Assert.That(U32(m, sym + 40), Is.EqualTo(2u));
            Assert.That(U64(m, sym + 56), Is.EqualTo(24ul));
            Assert.That(U32(m, str + 4), Is.EqualTo(3u));
            Assert.That(U64(m, str + 24), Is.EqualTo(0x14Cul));
            Assert.That(Read(m, symtab, 72), Is.EqualTo(Symbols(true)));
            Assert.That(Read(m, strtab, 18), Is.EqualTo(Strings));
            Assert.That(sod.MfnList, Is.EqualTo(0x106000ul));
        });
    }

    /// <summary>
    /// libelf reserves 4 + 68 + 3 * 40 bytes of headers for ELFCLASS32 but places the symbols at
    /// Start + 260 (the 64-byte unions): the load runs 68 bytes past the reservation, and
    /// elf_memcpy_safe drops any copy not wholly inside the kernel segment (libxc maps it as
    /// dest_base/dest_size, whole pages). With Start = 0x105EC4 the reservation ends at 0x105FC8,
    /// so the segment ends at 0x106000: the symbols (0x105FC8 + 48) fit, the strings (0x105FF8 +
    /// 18) straddle the end and are not copied at all, and the p2m list starts at 0x106000.
    /// </summary>
    [Test]
    public void Pv32CopyPastTheKernelSegmentIsDropped()
    {
        var (m, sod) = Build(Image(Kind.Pv32Pae, pend: 0x105EC4));
        Assert.Multiple(() =>
        {
            Assert.That(sod.MfnList, Is.EqualTo(0x106000ul), "round_page(0x105EC4 + 260)");
            Assert.That(Read(m, 0x105EC8, 4), Is.EqualTo("\u007fELF"u8.ToArray()), "the ELF header is written");
            Assert.That(U32(m, 0x105EC4), Is.EqualTo(0x105FF8u + 18 - 0x105EC8), "size word as if the strings were loaded");
            Assert.That(Read(m, 0x105FC8, 48), Is.EqualTo(Symbols(false)), "the symbols fit");
            Assert.That(Read(m, 0x105FF8, 8), Is.EqualTo(new byte[8]), "no part of the strings is copied");
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void WithoutTheNoteNothingIsLoaded(bool wide)
    {
        var (m, sod) = Build(Image(wide ? Kind.Pv64 : Kind.Pv32Pae, note: false));
        Assert.That(sod.MfnList, Is.EqualTo(0x105000ul), "round_page(pend)");
        Assert.That(Read(m, Pend, (int)(0x105000 - Pend)), Is.EqualTo(new byte[0x105000 - Pend]));
    }

    /// <summary>elf_parse_bsdsyms without a symbol table: "invalid ELF handle for symtab section", nothing reserved, the domain built as without the note.</summary>
    [Test]
    public void NoteWithoutASymbolTableLoadsNothing()
    {
        var (m, sod) = Build(Image(Kind.Pv32Pae, symbols: false));
        Assert.That(sod.MfnList, Is.EqualTo(0x105000ul));
        Assert.That(Read(m, Pend, (int)(0x105000 - Pend)), Is.EqualTo(new byte[0x105000 - Pend]));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void GuestWithTheTableStillBoots(bool wide)
    {
        var exit = XlCreate.Run(Image(wide ? Kind.Pv64 : Kind.Pv32Pae).Build(), DomainConfig.Parse("memory = 64"), new ToolstackOptions { InstructionBudget = 2_000_000 });
        Assert.That(exit.Reason, Is.EqualTo("domain shut down: poweroff"));
        Assert.That(exit.Console.Lines, Is.EqualTo(new[] { "start_info found", Success }));
    }

    /// <summary>Symbol tables libelf would not load, and what our refusal says.</summary>
    private static readonly (TestElf Image, string Reason)[] Malformed =
    [
        (Image(Kind.Pv32Pae) with { SymtabSize = 0x100000 }, "SHT_SYMTAB section 1 (0x"),
        (Image(Kind.Pv32Pae) with { SymtabLink = 9 }, "SHT_SYMTAB section 1 links to section 9, not a section of the table"),
        (Image(Kind.Pv64) with { SymtabLink = 0 }, "SHT_SYMTAB section 1 links to section 0, not a section of the table"),
        (Image(Kind.Pv32Pae) with { StrtabType = 1 }, "links to section 2 of type 1, not SHT_STRTAB"),
    ];

    /// <summary>A symbol table libelf would not load (it marks the image broken: elf_init, elf_parse_bsdsyms, elf_memcpy_safe) is one build-failure line, the instance's CRASH reason. Cases: sh_size past the file, sh_link past the table, sh_link SHN_UNDEF, a link to a section that is not SHT_STRTAB.</summary>
    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void MalformedSymbolTableIsOneBuildFailure(int index)
    {
        var (image, contains) = Malformed[index];
        var exit = XlCreate.Run(image.Build(), DomainConfig.Parse(""), new ToolstackOptions { InstructionBudget = 2_000_000 });
        Assert.That(exit.Reason, Does.StartWith("domain build failed: ").And.Contain(contains).And.Not.Contain("\n"));
        Assert.That(exit.Instructions, Is.Zero);
    }

    /// <summary>Without the note the symbol table is never looked at, malformed or not (libelf reads it only for elf_parse_bsdsyms).</summary>
    [TestCase(0)]
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void MalformedSymbolTableWithoutTheNoteBoots(int index)
    {
        var image = Malformed[index].Image;
        var exit = XlCreate.Run((image with { Notes = [.. image.Notes.Where(n => n.Type != XenElfNotes.BsdSymtabType)] }).Build(), DomainConfig.Parse(""), new ToolstackOptions { InstructionBudget = 2_000_000 });
        Assert.That(exit.Reason, Is.EqualTo("domain shut down: poweroff"));
    }
}
