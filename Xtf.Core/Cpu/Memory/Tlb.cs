namespace Xtf.Core.Cpu.Memory;

/// <summary>
/// Access rights of a cached translation, one bit per kind of access, worked out by the page walk
/// from the combined U/S, R/W and XD bits and the controls in force (CR0.WP, CR4.SMEP/SMAP,
/// EFER.NXE). Supervisor data accesses have two variants, for EFLAGS.AC clear and set (SMAP).
/// </summary>
[Flags]
internal enum TlbRights : byte
{
    None = 0,
    UserRead = 1,
    UserWrite = 2,
    UserExecute = 4,
    SupervisorRead = 8,
    SupervisorWrite = 16,
    SupervisorExecute = 32,
    SupervisorReadAc = 64,
    SupervisorWriteAc = 128,
}

/// <summary>One cached translation of a 4 KiB linear page.</summary>
internal struct TlbEntry
{
    /// <summary>Linear page number + 1 (0 marks an empty entry).</summary>
    public ulong Tag;

    /// <summary>Physical address of the 4 KiB frame.</summary>
    public ulong Frame;

    /// <summary>Linear base of the page the translation came from and its size mask (4 KiB, 2 MiB, 4 MiB or 1 GiB).</summary>
    public ulong PageBase, PageMask;

    public TlbRights Rights;

    /// <summary>The leaf had G set with CR4.PGE: a CR3 write keeps the entry (SDM vol. 3, 4.10.2.4).</summary>
    public bool Global;
}

/// <summary>
/// The translation lookaside buffer (SDM vol. 3, 4.10): a direct-mapped cache of linear page to
/// frame and rights. The architecture lets a processor keep a translation until it is flushed,
/// and this one does, so guest code sees stale entries exactly where hardware may show them.
/// Write rights are only cached once the leaf's dirty flag is set, so the first write walks.
/// </summary>
internal sealed class Tlb
{
    private const int Size = 1024;
    private readonly TlbEntry[] entries = new TlbEntry[Size];

    // The slots filled since the last flush, while there are few of them: a flush then clears just
    // those instead of scanning every slot (guests flush far more often than they fill the TLB).
    // `filled` past the list's length means "too many to track": flushes scan the whole array.
    private readonly ushort[] recent = new ushort[64];
    private int filled;

    private static int Index(ulong linear) => (int)((linear >> 12) & (Size - 1));

    public ref TlbEntry Slot(ulong linear) => ref entries[Index(linear)];

    public static bool Hits(in TlbEntry e, ulong linear, TlbRights need) =>
        e.Tag == (linear >> 12) + 1 && (e.Rights & need) != 0;

    /// <summary>Caches the translation of the page holding <paramref name="linear"/>.</summary>
    public void Fill(ulong linear, in TlbEntry entry)
    {
        int index = Index(linear);
        entries[index] = entry;
        if (filled < recent.Length)
            recent[filled] = (ushort)index;
        if (filled <= recent.Length)
            filled++;
    }

    /// <summary>MOV CR3 (without PCIDs): every entry but global ones (SDM vol. 3, 4.10.4.1).</summary>
    public void FlushNonGlobal() => Drop(new NonGlobal());

    /// <summary>Changes of CR0.PG/WP, CR4.PGE/PSE/PAE/SMEP/SMAP, EFER.NXE/LMA: everything (SDM vol. 3, 4.10.4.1).</summary>
    public void FlushAll()
    {
        if (filled > recent.Length)
            Array.Clear(entries);
        else
        {
            foreach (ushort index in recent.AsSpan(0, filled))
                entries[index].Tag = 0;
        }

        filled = 0;
    }

    /// <summary>INVLPG: every entry of the page containing <paramref name="linear"/>, whatever its size, global ones too.</summary>
    public void FlushPage(ulong linear) => Drop(new OfPage(linear));

    /// <summary>
    /// Empties the entries <paramref name="matches"/> picks, and tracks the ones left as filled
    /// (so a later flush still finds them).
    /// </summary>
    private void Drop<TMatch>(TMatch matches)
        where TMatch : struct, IEntryMatch
    {
        int count = filled;
        filled = 0;
        if (count > recent.Length)
        {
            for (int index = 0; index < Size; index++)
                Keep(index, matches);
        }
        else
        {
            Span<ushort> slots = stackalloc ushort[count];
            recent.AsSpan(0, count).CopyTo(slots);
            foreach (ushort index in slots)
                Keep(index, matches);
        }
    }

    private void Keep<TMatch>(int index, TMatch matches)
        where TMatch : struct, IEntryMatch
    {
        ref var e = ref entries[index];
        if (e.Tag == 0)
            return;
        if (matches.Matches(in e))
        {
            e.Tag = 0;
            return;
        }

        if (filled < recent.Length)
            recent[filled] = (ushort)index;
        if (filled <= recent.Length)
            filled++;
    }

    /// <summary>Which entries a flush drops (a struct per rule, so the scan is specialised and inlined, not a delegate call per slot).</summary>
    private interface IEntryMatch
    {
        bool Matches(in TlbEntry e);
    }

    private readonly struct NonGlobal : IEntryMatch
    {
        public bool Matches(in TlbEntry e) => !e.Global;
    }

    private readonly struct OfPage(ulong linear) : IEntryMatch
    {
        public bool Matches(in TlbEntry e) => (linear & ~e.PageMask) == e.PageBase;
    }
}
