using System.Buffers.Binary;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.GrantTables;

/// <summary>
/// A domain's grant table (xen/common/grant_table.c struct grant_table): its version, its
/// shared frames (the entries the guest writes) and, for v2, its status frames. Created as
/// grant_table_init does, with version 1 and INITIAL_NR_GRANT_FRAMES; frames are allocated when
/// first needed, which the guest cannot tell apart.
/// </summary>
public sealed class GrantTable(PhysicalMemory memory, IGrantFrameSource source)
{
    /// <summary>opt_max_grant_frames' default (xen/common/grant_table.c), what libxl passes for a domain without max_grant_frames.</summary>
    public const int MaxGrantFrames = 64;

    /// <summary>INITIAL_NR_GRANT_FRAMES (xen/arch/x86/include/asm/grant_table.h).</summary>
    public const int InitialFrames = 1;

    /// <summary>GNTTAB_MAX_VERSION, opt_gnttab_max_version's default: the domain may use v2.</summary>
    public const int MaxVersion = 2;

    private const int PageSize = PhysicalMemory.FrameSize;
    private readonly List<GrantFrame> shared = [];
    private readonly List<GrantFrame> status = [];

    /// <summary>The active entries of this table's references, by reference (absent: act->pin 0).</summary>
    public Dictionary<uint, ActiveGrant> Active { get; } = [];

    /// <summary>This domain's maptrack: its grant mappings of other (or its own) tables, by handle.</summary>
    public List<GrantMapping> Maptrack { get; } = [];

    /// <summary>Whether some reference above the reserved ones is pinned (set_version's -EBUSY check).</summary>
    public bool EntriesInUse => Active.Any(a => a.Key >= GrantLayout.ReservedEntries && a.Value.Pinned);

    /// <summary>gt_version (1 from grant_table_init).</summary>
    public int Version { get; private set; } = 1;

    /// <summary>nr_grant_frames(gt).</summary>
    public int FrameCount
    {
        get
        {
            EnsureInitial();
            return shared.Count;
        }
    }

    /// <summary>nr_status_frames(gt).</summary>
    public int StatusFrameCount
    {
        get
        {
            EnsureInitial();
            return status.Count;
        }
    }

    /// <summary>nr_grant_entries(gt): frames times entries per frame of the current version.</summary>
    public int EntryCount => FrameCount * (PageSize / (Version == 1 ? GrantLayout.EntryV1Size : GrantLayout.EntryV2Size));

    /// <summary>Shared frame <paramref name="i"/> (below <see cref="FrameCount"/>).</summary>
    public GrantFrame SharedFrame(int i) => shared[i];

    /// <summary>Status frame <paramref name="i"/> (below <see cref="StatusFrameCount"/>).</summary>
    public GrantFrame StatusFrame(int i) => status[i];

    /// <summary>guest_physmap_add_page of <paramref name="frame"/> at <paramref name="gfn"/> (<see cref="GrantFrame.Place"/>).</summary>
    public void Place(GrantFrame frame, ulong gfn) => frame.Place(memory, gfn);

    /// <summary>grant_to_status_frames: DIV_ROUND_UP(frames * GRANT_PER_PAGE (256 v2 entries), GRANT_STATUS_PER_PAGE (2048)).</summary>
    public static int StatusFramesFor(int grantFrames) =>
        ((grantFrames * (PageSize / GrantLayout.EntryV2Size)) + (PageSize / GrantLayout.StatusSize) - 1) / (PageSize / GrantLayout.StatusSize);

    /// <summary>status_to_grant_frames: DIV_ROUND_UP(status frames * 2048, 256).</summary>
    public static int GrantFramesFor(int statusFrames) =>
        ((statusFrames * (PageSize / GrantLayout.StatusSize)) + (PageSize / GrantLayout.EntryV2Size) - 1) / (PageSize / GrantLayout.EntryV2Size);

    /// <summary>
    /// gnttab_grow_table: at least INITIAL_NR_GRANT_FRAMES; new shared frames, and with v2 the
    /// status frames they need, all zeroed and shared with the guest. False (-ENOMEM, nothing
    /// kept) when the hypervisor runs out of pages. The caller checks max_grant_frames.
    /// </summary>
    public bool Grow(int frames)
    {
        frames = Math.Max(frames, InitialFrames);
        var added = new List<GrantFrame>();
        for (int i = shared.Count; i < frames; i++)
        {
            if (source.Allocate() is not { } f)
                return false;
            added.Add(f);
        }

        if (Version > 1 && !PopulateStatus(frames))
            return false;
        shared.AddRange(added);
        return true;
    }

    /// <summary>gnttab_populate_status_frames: status frames for <paramref name="grantFrames"/> shared frames.</summary>
    private bool PopulateStatus(int grantFrames)
    {
        var added = new List<GrantFrame>();
        for (int i = status.Count; i < StatusFramesFor(grantFrames); i++)
        {
            if (source.Allocate() is not { } f)
                return false;
            added.Add(f);
        }

        status.AddRange(added);
        return true;
    }

    /// <summary>
    /// gnttab_unpopulate_status_frames (PV): each frame's allocation reference is dropped; one
    /// still referenced (mapped by the guest) fails the whole operation with -EBUSY and the frames
    /// released before it are shared again, so the table keeps them all.
    /// </summary>
    private int UnpopulateStatus()
    {
        for (int i = 0; i < status.Count; i++)
        {
            if (!source.TryRelease(status[i]))
                return -XenErrno.EBUSY;
        }

        status.Clear();
        return 0;
    }

    private void EnsureInitial()
    {
        if (shared.Count == 0)
            Grow(InitialFrames);
    }

    /// <summary>
    /// gnttab_set_version for a version already checked to be 1 or 2 (and allowed): a no-op for
    /// the current version; otherwise the reserved entries are kept (a v2 one that v1 cannot
    /// represent, a transitive grant or a frame above 32 bits, is -ERANGE), v1 to v2 populates
    /// the status frames, v2 to v1 frees them (-EBUSY while the guest still maps one), and all
    /// shared frames are cleared before the reserved entries are written back in the new format.
    /// <paramref name="entriesInUse"/>: some entry above the reserved ones is pinned (-EBUSY).
    /// </summary>
    public int SetVersion(int version, bool entriesInUse)
    {
        EnsureInitial();
        if (version == Version)
            return 0;
        if (entriesInUse)
            return -XenErrno.EBUSY;
        if (Version == 1)
        {
            if (!PopulateStatus(shared.Count))
                return -XenErrno.ENOMEM;
        }
        else
        {
            for (int i = 0; i < GrantLayout.ReservedEntries; i++)
            {
                ushort flags = ReadU16(shared, i * GrantLayout.EntryV2Size);
                ushort type = (ushort)(flags & Gtf.TypeMask);
                if ((type == Gtf.PermitAccess && ReadU64(shared, (i * GrantLayout.EntryV2Size) + 8) >> 32 != 0) || type == Gtf.Transitive)
                    return -XenErrno.ERANGE;
            }
        }

        var reserved = new (ushort Flags, ushort Domid, uint Frame)[GrantLayout.ReservedEntries];
        for (int i = 0; i < reserved.Length; i++)
        {
            if (Version == 1)
            {
                int o = i * GrantLayout.EntryV1Size;
                reserved[i] = (ReadU16(shared, o), ReadU16(shared, o + 2), ReadU32(shared, o + 4));
            }
            else
            {
                int o = i * GrantLayout.EntryV2Size;
                ushort flags = ReadU16(shared, o);
                reserved[i] = (flags & Gtf.TypeMask) == Gtf.PermitAccess
                    ? ((ushort)(flags | ReadU16(status, i * GrantLayout.StatusSize)), ReadU16(shared, o + 2), (uint)ReadU64(shared, o + 8))
                    : default;
            }
        }

        if (version == 1 && Version == 2)
        {
            int rc = UnpopulateStatus();
            if (rc != 0)
                return rc;
        }

        foreach (var f in shared)
            f.Clear(memory);
        for (int i = 0; i < reserved.Length; i++)
        {
            var (flags, domid, frame) = reserved[i];
            if (version == 1)
            {
                int o = i * GrantLayout.EntryV1Size;
                WriteU16(shared, o, flags);
                WriteU16(shared, o + 2, domid);
                WriteU32(shared, o + 4, frame);
            }
            else
            {
                int o = i * GrantLayout.EntryV2Size;
                WriteU16(status, i * GrantLayout.StatusSize, (ushort)(flags & (Gtf.Reading | Gtf.Writing)));
                WriteU16(shared, o, (ushort)(flags & ~(Gtf.Reading | Gtf.Writing)));
                WriteU16(shared, o + 2, domid);
                WriteU64(shared, o + 8, frame);
            }
        }

        Version = version;
        return 0;
    }

    /// <summary>The v1 entry or the v2 header of <paramref name="reference"/>: (flags, domid), and the full-page frame.</summary>
    public (ushort Flags, ushort Domid, ulong Frame) ReadEntry(uint reference)
    {
        int o = (int)reference * (Version == 1 ? GrantLayout.EntryV1Size : GrantLayout.EntryV2Size);
        return Version == 1
            ? (ReadU16(shared, o), ReadU16(shared, o + 2), ReadU32(shared, o + 4))
            : (ReadU16(shared, o), ReadU16(shared, o + 2), ReadU64(shared, o + 8));
    }

    /// <summary>The status word of <paramref name="reference"/>: the v1 entry's flags, or the v2 status frame's grant_status_t.</summary>
    public ushort ReadStatus(uint reference) =>
        Version == 1 ? ReadU16(shared, (int)reference * GrantLayout.EntryV1Size) : ReadU16(status, (int)reference * GrantLayout.StatusSize);

    /// <summary>Writes the status word of <paramref name="reference"/> (see <see cref="ReadStatus"/>).</summary>
    public void WriteStatus(uint reference, ushort value)
    {
        if (Version == 1)
            WriteU16(shared, (int)reference * GrantLayout.EntryV1Size, value);
        else
            WriteU16(status, (int)reference * GrantLayout.StatusSize, value);
    }

    private ushort ReadU16(List<GrantFrame> frames, int offset)
    {
        Span<byte> b = stackalloc byte[2];
        frames[offset / PageSize].Read(memory, offset % PageSize, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    private uint ReadU32(List<GrantFrame> frames, int offset)
    {
        Span<byte> b = stackalloc byte[4];
        frames[offset / PageSize].Read(memory, offset % PageSize, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private ulong ReadU64(List<GrantFrame> frames, int offset)
    {
        Span<byte> b = stackalloc byte[8];
        frames[offset / PageSize].Read(memory, offset % PageSize, b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    private void WriteU16(List<GrantFrame> frames, int offset, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        frames[offset / PageSize].Write(memory, offset % PageSize, b);
    }

    private void WriteU32(List<GrantFrame> frames, int offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        frames[offset / PageSize].Write(memory, offset % PageSize, b);
    }

    private void WriteU64(List<GrantFrame> frames, int offset, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        frames[offset / PageSize].Write(memory, offset % PageSize, b);
    }
}
