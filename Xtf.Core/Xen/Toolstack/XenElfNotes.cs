using System.Buffers.Binary;
using System.Text;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>
/// The "Xen" ELF notes a domain builder reads (public/elfnote.h, XEN_ELFNOTE_*), as libelf's
/// elf_xen_parse_note keeps them: numeric notes are 1, 2, 4 or 8 bytes, string notes end at
/// their NUL. Notes of other owners, and Xen notes of types not listed here, are ignored.
/// </summary>
public sealed record XenElfNotes
{
    /// <summary>XEN_ELFNOTE_ENTRY (1): the PV entry point, virtual.</summary>
    public const uint EntryType = 1;

    /// <summary>XEN_ELFNOTE_HYPERCALL_PAGE (2): virtual address of the page the builder fills with hypercall stubs.</summary>
    public const uint HypercallPageType = 2;

    /// <summary>XEN_ELFNOTE_VIRT_BASE (3).</summary>
    public const uint VirtBaseType = 3;

    /// <summary>XEN_ELFNOTE_PADDR_OFFSET (4).</summary>
    public const uint PaddrOffsetType = 4;

    /// <summary>XEN_ELFNOTE_XEN_VERSION (5), e.g. "xen-3.0".</summary>
    public const uint XenVersionType = 5;

    /// <summary>XEN_ELFNOTE_GUEST_OS (6).</summary>
    public const uint GuestOsType = 6;

    /// <summary>XEN_ELFNOTE_GUEST_VERSION (7).</summary>
    public const uint GuestVersionType = 7;

    /// <summary>XEN_ELFNOTE_LOADER (8): "generic".</summary>
    public const uint LoaderType = 8;

    /// <summary>XEN_ELFNOTE_PAE_MODE (9): "yes", "no", "bimodal" or "yes,bimodal".</summary>
    public const uint PaeModeType = 9;

    /// <summary>XEN_ELFNOTE_FEATURES (10): '|'-separated feature names, '!' marking required ones.</summary>
    public const uint FeaturesType = 10;

    /// <summary>XEN_ELFNOTE_BSD_SYMTAB (11): "yes" asks the builder to load the symbol table after the image.</summary>
    public const uint BsdSymtabType = 11;

    /// <summary>XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point, a 32-bit physical address.</summary>
    public const uint Phys32EntryType = 18;

    /// <summary>XEN_ELFNOTE_ENTRY, if present.</summary>
    public ulong? Entry { get; init; }

    /// <summary>XEN_ELFNOTE_HYPERCALL_PAGE, if present.</summary>
    public ulong? HypercallPage { get; init; }

    /// <summary>XEN_ELFNOTE_VIRT_BASE, if present.</summary>
    public ulong? VirtBase { get; init; }

    /// <summary>XEN_ELFNOTE_PADDR_OFFSET, if present.</summary>
    public ulong? PaddrOffset { get; init; }

    /// <summary>XEN_ELFNOTE_PHYS32_ENTRY, if present.</summary>
    public uint? Phys32Entry { get; init; }

    /// <summary>XEN_ELFNOTE_XEN_VERSION.</summary>
    public string? XenVersion { get; init; }

    /// <summary>XEN_ELFNOTE_GUEST_OS.</summary>
    public string? GuestOs { get; init; }

    /// <summary>XEN_ELFNOTE_GUEST_VERSION.</summary>
    public string? GuestVersion { get; init; }

    /// <summary>XEN_ELFNOTE_LOADER.</summary>
    public string? Loader { get; init; }

    /// <summary>XEN_ELFNOTE_PAE_MODE.</summary>
    public string? PaeMode { get; init; }

    /// <summary>XEN_ELFNOTE_FEATURES, split at '|'; required ones keep their leading '!'.</summary>
    public IReadOnlyList<string> Features { get; init; } = [];

    /// <summary>XEN_ELFNOTE_BSD_SYMTAB said "yes".</summary>
    public bool BsdSymtab { get; init; }

    /// <summary>True if the image carries any Xen note at all.</summary>
    public bool Any { get; init; }

    /// <summary>Reads the Xen notes of <paramref name="notes"/>; a numeric note of a size other than 1, 2, 4 or 8 bytes is an <see cref="ElfFormatException"/>, as libelf refuses it.</summary>
    public static XenElfNotes From(IEnumerable<ElfNote> notes)
    {
        var n = new XenElfNotes();
        foreach (var note in notes)
        {
            if (note.Name != "Xen")
                continue;
            n = n with { Any = true };
            n = note.Type switch
            {
                EntryType => n with { Entry = Number(note) },
                HypercallPageType => n with { HypercallPage = Number(note) },
                VirtBaseType => n with { VirtBase = Number(note) },
                PaddrOffsetType => n with { PaddrOffset = Number(note) },
                Phys32EntryType => n with { Phys32Entry = (uint)Number(note) },
                XenVersionType => n with { XenVersion = Text(note) },
                GuestOsType => n with { GuestOs = Text(note) },
                GuestVersionType => n with { GuestVersion = Text(note) },
                LoaderType => n with { Loader = Text(note) },
                PaeModeType => n with { PaeMode = Text(note) },
                FeaturesType => n with { Features = Text(note).Split('|', StringSplitOptions.RemoveEmptyEntries) },
                BsdSymtabType => n with { BsdSymtab = Text(note) == "yes" },
                _ => n,
            };
        }

        return n;
    }

    private static ulong Number(ElfNote note) => note.Descriptor.Length switch
    {
        1 => note.Descriptor[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(note.Descriptor),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(note.Descriptor),
        8 => BinaryPrimitives.ReadUInt64LittleEndian(note.Descriptor),
        _ => throw new ElfFormatException($"Xen note {note.Type} is {note.Descriptor.Length} bytes: a number must be 1, 2, 4 or 8"),
    };

    private static string Text(ElfNote note)
    {
        int end = Array.IndexOf(note.Descriptor, (byte)0);
        return Encoding.ASCII.GetString(note.Descriptor, 0, end < 0 ? note.Descriptor.Length : end);
    }
}
