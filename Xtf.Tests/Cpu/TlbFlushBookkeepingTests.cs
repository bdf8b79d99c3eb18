using NUnit.Framework;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Tests.Cpu;

/// <summary>
/// The TLB's flushes (SDM vol. 3, 4.10.4.1) whatever it has to remember: a flush clears only the
/// slots filled since the last one while they are few, and scans every slot past that, so each
/// rule is checked below, at and above the point where the model stops tracking slots.
/// </summary>
[TestFixture]
public sealed class TlbFlushBookkeepingTests
{
    private const TlbRights Read = TlbRights.SupervisorRead;

    private static readonly int[] Counts = [1, 63, 64, 65, 1024, 3000];

    private static TlbEntry Entry(ulong page, bool global) => new()
    {
        Tag = page + 1,
        Frame = page << 12,
        PageBase = page << 12,
        PageMask = 0xFFF,
        Rights = Read,
        Global = global,
    };

    /// <summary>Fills pages 0..count-1 (every other one global when asked); returns the pages that stayed cached.</summary>
    private static List<ulong> Fill(Tlb tlb, int count, bool someGlobal)
    {
        for (ulong page = 0; page < (ulong)count; page++)
            tlb.Fill(page << 12, Entry(page, someGlobal && page % 2 == 0));
        return [.. Enumerable.Range(0, count).Select(p => (ulong)p).Where(p => Hits(tlb, p))];
    }

    private static bool Hits(Tlb tlb, ulong page) => Tlb.Hits(tlb.Slot(page << 12), page << 12, Read);

    [TestCaseSource(nameof(Counts))]
    public void FlushAllDropsEveryEntry(int count)
    {
        var tlb = new Tlb();
        var cached = Fill(tlb, count, someGlobal: true);
        tlb.FlushAll();
        Assert.That(cached.Where(p => Hits(tlb, p)), Is.Empty, "CR0.PG/WP or CR4 paging-bit change: no translation survives");
    }

    [TestCaseSource(nameof(Counts))]
    public void FlushNonGlobalKeepsGlobalsUntilFlushAll(int count)
    {
        var tlb = new Tlb();
        var cached = Fill(tlb, count, someGlobal: true);
        tlb.FlushNonGlobal();
        Assert.That(cached.Where(p => Hits(tlb, p)), Is.EqualTo(cached.Where(p => p % 2 == 0)),
            "MOV CR3: exactly the global translations survive");

        // A second MOV CR3 and then a full flush must still find the globals the first one kept.
        tlb.FlushNonGlobal();
        Assert.That(cached.Where(p => Hits(tlb, p)), Is.EqualTo(cached.Where(p => p % 2 == 0)));
        tlb.FlushAll();
        Assert.That(cached.Where(p => Hits(tlb, p)), Is.Empty, "CR4.PGE change after MOV CR3: the globals go too");
    }

    [TestCaseSource(nameof(Counts))]
    public void FlushPageDropsOnlyThatPage(int count)
    {
        var tlb = new Tlb();
        var cached = Fill(tlb, count, someGlobal: true);
        ulong victim = cached[^1];
        tlb.FlushPage(victim << 12);
        Assert.That(cached.Where(p => Hits(tlb, p)), Is.EqualTo(cached.Where(p => p != victim)),
            "INVLPG: that page's translation, global or not, and no other");
        tlb.FlushAll();
        Assert.That(cached.Where(p => Hits(tlb, p)), Is.Empty);
    }
}
