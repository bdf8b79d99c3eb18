using NUnit.Framework;
using Xtf.Core.Xen.Toolstack;

namespace Xtf.Tests.Toolstack;

/// <summary>XenElfNotes.From: public/elfnote.h types; numeric notes of 1, 2, 4 or 8 bytes (libelf elf_note_numeric), strings to their NUL.</summary>
[TestFixture]
public sealed class XenElfNotesTests
{
    private static XenElfNotes From(params TestElf.Note[] notes) =>
        XenElfNotes.From(notes.Select(n => new ElfNote(n.Name, n.Type, n.Descriptor)));

    [Test]
    public void EveryModelledType()
    {
        var n = From(
            TestElf.Note.XenNumber(1, 0x1234),
            TestElf.Note.XenNumber(2, 0x2000, 4),
            TestElf.Note.XenNumber(3, 0, 2),
            TestElf.Note.XenNumber(4, 0, 1),
            TestElf.Note.XenText(5, "xen-3.0"),
            TestElf.Note.XenText(6, "XTF"),
            TestElf.Note.XenText(7, "0"),
            TestElf.Note.XenText(8, "generic"),
            TestElf.Note.XenText(9, "yes"),
            TestElf.Note.XenText(10, "!writable_page_tables|pae_pgdir_above_4gb"),
            TestElf.Note.XenText(11, "yes"),
            TestElf.Note.XenNumber(18, 0x100000, 4));
        Assert.Multiple(() =>
        {
            Assert.That(n.Any);
            Assert.That(n.Entry, Is.EqualTo(0x1234));
            Assert.That(n.HypercallPage, Is.EqualTo(0x2000));
            Assert.That(n.VirtBase, Is.Zero);
            Assert.That(n.PaddrOffset, Is.Zero);
            Assert.That(n.XenVersion, Is.EqualTo("xen-3.0"));
            Assert.That(n.GuestOs, Is.EqualTo("XTF"));
            Assert.That(n.GuestVersion, Is.EqualTo("0"));
            Assert.That(n.Loader, Is.EqualTo("generic"));
            Assert.That(n.PaeMode, Is.EqualTo("yes"));
            Assert.That(n.Features, Is.EqualTo(new[] { "!writable_page_tables", "pae_pgdir_above_4gb" }));
            Assert.That(n.BsdSymtab);
            Assert.That(n.Phys32Entry, Is.EqualTo(0x100000));
        });
    }

    [TestCase(1, 0xABul)]
    [TestCase(2, 0xABCDul)]
    [TestCase(4, 0xABCD_EF01ul)]
    [TestCase(8, 0xABCD_EF01_2345_6789ul)]
    public void NumericSizes(int size, ulong value) =>
        Assert.That(From(TestElf.Note.XenNumber(1, value, size)).Entry, Is.EqualTo(value));

    [TestCase(3)]
    [TestCase(0)]
    [TestCase(16)]
    public void NumericOfOtherSizeIsRefused(int size) =>
        Assert.That(() => From(TestElf.Note.XenNumber(2, 1, size)), Throws.TypeOf<ElfFormatException>().With.Message.Contains($"is {size} bytes"));

    [Test]
    public void OtherOwnersAndUnknownTypesAreIgnored()
    {
        var n = From(new TestElf.Note("GNU", 1, new byte[8]), new TestElf.Note("Xen", 99, [1, 2, 3]));
        Assert.That(n.Entry, Is.Null);
        Assert.That(n.Any, "an unknown Xen note still makes the image a Xen one");
        Assert.That(From(new TestElf.Note("GNU", 1, new byte[8])).Any, Is.False);
    }

    [Test]
    public void StringWithoutNulAndEmptyFeatures()
    {
        var n = From(new TestElf.Note("Xen", 5, "xen-3.0"u8.ToArray()), TestElf.Note.XenText(10, "||"), TestElf.Note.XenText(11, "no"));
        Assert.That(n.XenVersion, Is.EqualTo("xen-3.0"));
        Assert.That(n.Features, Is.Empty);
        Assert.That(n.BsdSymtab, Is.False);
    }

    [Test]
    public void LastNoteOfATypeWins() =>
        Assert.That(From(TestElf.Note.XenNumber(1, 1), TestElf.Note.XenNumber(1, 2)).Entry, Is.EqualTo(2));
}
