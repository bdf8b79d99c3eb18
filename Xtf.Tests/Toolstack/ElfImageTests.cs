using NUnit.Framework;
using Xtf.Core.Xen.Toolstack;

namespace Xtf.Tests.Toolstack;

/// <summary>ElfImage.Parse on <see cref="TestElf"/> output: every field it reads (System V gABI layouts) and every structural error.</summary>
[TestFixture]
public sealed class ElfImageTests
{
    private static readonly TestElf.Segment Load = new(0x100000, [1, 2, 3, 4], 0x2000) { VirtualAddress = 0x80100000 };
    private static readonly TestElf Good = new() { Entry = 0x100000, Segments = [Load], Notes = [TestElf.Note.XenNumber(18, 0x100000, 4)] };

    private static void Refused(TestElf elf, string message) => Refused(elf.Build(), message);

    private static void Refused(byte[] bytes, string message) =>
        Assert.That(() => ElfImage.Parse(bytes), Throws.TypeOf<ElfFormatException>().With.Message.Contains(message));

    [TestCase(false, TestElf.Em386)]
    [TestCase(false, TestElf.EmX8664)]
    [TestCase(true, TestElf.EmX8664)]
    [TestCase(true, TestElf.Em386)]
    public void ClassAndMachineIndependently(bool elf64, ushort machine)
    {
        var e = ElfImage.Parse((Good with { Elf64 = elf64, Machine = machine }).Build());
        Assert.Multiple(() =>
        {
            Assert.That(e.Is64BitClass, Is.EqualTo(elf64));
            Assert.That(e.IsX8664Machine, Is.EqualTo(machine == TestElf.EmX8664));
            Assert.That(e.Entry, Is.EqualTo(0x100000));
            Assert.That(e.Segments, Has.Count.EqualTo(1));
            var s = e.Segments[0];
            Assert.That((s.PhysicalAddress, s.VirtualAddress, s.FileSize, s.MemorySize), Is.EqualTo((0x100000ul, 0x80100000ul, 4ul, 0x2000ul)));
            Assert.That(e.Bytes.AsSpan((int)s.Offset, 4).ToArray(), Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
            Assert.That(e.Notes, Has.Count.EqualTo(1));
            Assert.That((e.Notes[0].Name, e.Notes[0].Type, e.Notes[0].Descriptor), Is.EqualTo(("Xen", 18u, new byte[] { 0, 0, 0x10, 0 })));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void SectionHeaderNoteFallback(bool elf64)
    {
        var e = ElfImage.Parse((Good with { Elf64 = elf64, NotesInSectionOnly = true }).Build());
        Assert.That(e.Notes.Select(n => n.Type), Is.EqualTo(new[] { 18u }));
    }

    [Test]
    public void SeveralSegmentsAndNotesInOrder()
    {
        var e = ElfImage.Parse((Good with
        {
            Segments = [Load, new TestElf.Segment(0x200000, [9])],
            Notes = [TestElf.Note.XenText(5, "xen-3.0"), new TestElf.Note("GNU", 3, [1, 2, 3, 4, 5])],
        }).Build());
        Assert.That(e.Segments.Select(s => s.PhysicalAddress), Is.EqualTo(new[] { 0x100000ul, 0x200000ul }));
        Assert.That(e.Notes.Select(n => n.Name), Is.EqualTo(new[] { "Xen", "GNU" }));
        Assert.That(e.Notes[1].Descriptor, Has.Length.EqualTo(5), "descsz, not its padded size");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void SymbolTableAndItsStringTable(bool elf64)
    {
        var e = ElfImage.Parse((Good with { Elf64 = elf64, SymbolTable = (new byte[48], new byte[5]) }).Build());
        var t = e.FindSymbolTable();
        Assert.That(t, Is.Not.Null);
        Assert.That((t!.Symbols.Index, t.Symbols.Type, t.Symbols.Size, t.Symbols.Link), Is.EqualTo((1, 2u, 48ul, 2u)));
        Assert.That((t.Strings.Index, t.Strings.Type, t.Strings.Size), Is.EqualTo((2, 3u, 5ul)));
    }

    [Test]
    public void NoSymbolTable() => Assert.That(ElfImage.Parse(Good.Build()).FindSymbolTable(), Is.Null);

    /// <summary>libelf elf_init refuses a section header table that runs past the file ("shdr overflow"), whatever the notes say.</summary>
    [Test]
    public void SectionHeaderTablePastEof()
    {
        var bytes = (Good with { SymbolTable = (new byte[16], new byte[1]) }).Build();
        Refused(bytes[..^1], "the section header table");
    }

    [Test]
    public void NotElf() => Refused(Good with { Magic = [0x7F, (byte)'E', (byte)'L', (byte)'G'] }, "not an ELF file");

    [Test]
    public void ShorterThanEIdent() => Refused([0x7F, (byte)'E', (byte)'L', (byte)'F', 1, 1], "not an ELF file");

    [TestCase(false, 40)]
    [TestCase(true, 60)]
    public void ShortHeader(bool elf64, int length) => Refused(Good with { Elf64 = elf64, TruncateTo = length }, "truncated ELF header");

    [TestCase((byte)0)]
    [TestCase((byte)3)]
    public void UnknownClass(byte c) => Refused(Good with { Class = c }, $"unknown ELF class {c}");

    [Test]
    public void BigEndian() => Refused(Good with { DataEncoding = 2 }, "not a little-endian");

    [Test]
    public void NotExec() => Refused(Good with { Type = 3 }, "not an executable (e_type 3)");

    [Test]
    public void NotX86() => Refused(Good with { Machine = 40 }, "not an x86 image (e_machine 40)");

    [Test]
    public void NoProgramHeaders() => Refused(Good with { ProgramHeaderCount = 0 }, "no program headers");

    [Test]
    public void ProgramHeaderEntriesTooSmall() => Refused(Good with { ProgramHeaderEntrySize = 16 }, "too small");

    [Test]
    public void ProgramHeaderTablePastEof() => Refused(Good with { TruncateTo = 60 }, "the program header table");

    [Test]
    public void ProgramHeaderCountPastEof() => Refused(Good with { ProgramHeaderCount = 500 }, "the program header table");

    [Test]
    public void LoadPastEof() => Refused(Good with { FileSizeOverride = (0, 0x10000) }, "PT_LOAD segment 0");

    [Test]
    public void FileSizeAboveMemorySize() =>
        Refused(Good with { Segments = [new TestElf.Segment(0x100000, new byte[32], 16)] }, "p_filesz 0x20 above p_memsz 0x10");

    [Test]
    public void NoLoadSegment() => Refused(Good with { Segments = [] }, "no PT_LOAD segment");

    [Test]
    public void NoteRunningPastItsSegment()
    {
        var raw = TestElf.NoteBytes([TestElf.Note.XenNumber(1, 0)]);
        raw[4] = 0x40; // descsz 64 in a 24-byte segment
        Refused(Good with { RawNoteSegment = raw }, "PT_NOTE segment 1: a note runs past its end");
    }

    [Test]
    public void TrailingBytesShorterThanANoteHeaderAreIgnored()
    {
        var raw = TestElf.NoteBytes([TestElf.Note.XenNumber(1, 7)]).Concat(new byte[8]).ToArray();
        Assert.That(ElfImage.Parse((Good with { RawNoteSegment = raw }).Build()).Notes, Has.Count.EqualTo(1));
    }

    [Test]
    public void NoteSectionRunningPastItsEnd()
    {
        var bytes = (Good with { NotesInSectionOnly = true, Notes = [TestElf.Note.XenNumber(1, 0)] }).Build();
        int at = bytes.AsSpan().IndexOf(TestElf.NoteBytes([TestElf.Note.XenNumber(1, 0)]));
        bytes[at] = 0x40; // namesz 64
        Refused(bytes, "note section 1: a note runs past its end");
    }
}
