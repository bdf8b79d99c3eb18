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

    public ref TlbEntry Slot(ulong linear) => ref entries[(int)((linear >> 12) & (Size - 1))];

    public static bool Hits(in TlbEntry e, ulong linear, TlbRights need) =>
        e.Tag == (linear >> 12) + 1 && (e.Rights & need) != 0;

    /// <summary>MOV CR3 (without PCIDs): every entry but global ones (SDM vol. 3, 4.10.4.1).</summary>
    public void FlushNonGlobal()
    {
        foreach (ref var e in entries.AsSpan())
        {
            if (!e.Global)
                e.Tag = 0;
        }
    }

    /// <summary>Changes of CR0.PG/WP, CR4.PGE/PSE/PAE/SMEP/SMAP, EFER.NXE/LMA: everything (SDM vol. 3, 4.10.4.1).</summary>
    public void FlushAll() => Array.Clear(entries);

    /// <summary>INVLPG: every entry of the page containing <paramref name="linear"/>, whatever its size, global ones too.</summary>
    public void FlushPage(ulong linear)
    {
        foreach (ref var e in entries.AsSpan())
        {
            if (e.Tag != 0 && (linear & ~e.PageMask) == e.PageBase)
                e.Tag = 0;
        }
    }
}
