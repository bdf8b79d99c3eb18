using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.PageTableKit;

namespace Xtf.Tests.Cpu;

/// <summary>
/// The TLB (SDM vol. 3, 4.10): what must invalidate a cached translation (4.10.4.1: INVLPG, MOV
/// CR3 for non-global pages, a change of CR4.PGE, and changes of CR0.PG/WP and CR4.PSE/PAE/PGE/
/// SMEP/SMAP take effect at once), and what the model does where the SDM lets a processor choose
/// (4.10.4.3: a translation cached before an entry changed in memory may be used until a flush;
/// with CR4.PGE a global translation survives MOV CR3). Tests of the second kind say so in their
/// names. The guest changes entries with its own stores: the tables are identity-mapped.
/// </summary>
[TestFixture]
public sealed class TlbTests
{
    private const uint Big = 0x00C00000;
    private const uint Unmapped = 0x01000000;
    private const uint Mark = 0x5EC0DE;
    private const uint SecondTableArea = 0x58000;

    /// <summary>
    /// Maps TestLinear to FrameA (with <paramref name="pteFlags"/> too), enables paging, reads it
    /// (EBX: the translation is now cached), repoints the PTE to FrameB in memory, runs
    /// <paramref name="flush"/>, and reads again (ECX).
    /// </summary>
    private static PageTableKit ReadAfterRemap(ulong cr4, ulong pteFlags, Action<Assembler, PageTableKit> flush)
    {
        var kit = Create(PagingMode.Bits32);
        uint pte = kit.Map(TestLinear, FrameA, P | RW | pteFlags);
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr4);
            a.mov(ebx, __dword_ptr[TestLinear]);
            a.mov(__dword_ptr[pte], (int)(FrameB | P | RW | pteFlags));
            flush(a, kit);
            a.mov(ecx, __dword_ptr[TestLinear]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "first read through the original PTE");
        return kit;
    }

    private static void ReloadCr3(Assembler a, PageTableKit kit)
    {
        a.mov(eax, cr3);
        a.mov(cr3, eax);
    }

    [TestCase(TestName = "INVLPG: after INVLPG the rewritten PTE takes effect for that page")]
    public void InvlpgFlushesPage()
    {
        var kit = ReadAfterRemap(0, 0, (a, _) => a.invlpg(__byte_ptr[TestLinear]));
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB));
    }

    [TestCase(TestName = "MOV CR3: after reloading CR3 (same value) a rewritten PTE of a non-global page takes effect")]
    public void MovCr3FlushesNonGlobal()
    {
        var kit = ReadAfterRemap(0, 0, ReloadCr3);
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB));
    }

    [TestCase(TestName = "MOV CR3: with CR4.PGE, a PTE without G is flushed by MOV CR3")]
    public void MovCr3FlushesNonGlobalWithPge()
    {
        var kit = ReadAfterRemap(Cr4.PGE, 0, ReloadCr3);
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB));
    }

    [TestCase(TestName = "Global pages: PTE.G without CR4.PGE is not global, MOV CR3 flushes it")]
    public void GlobalBitWithoutPge()
    {
        var kit = ReadAfterRemap(0, G, ReloadCr3);
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB));
    }

    [TestCase(TestName = "Model (SDM 4.10.4.3 permits): a translation cached before its PTE changed in memory stays in use until a flush")]
    public void StaleTranslationWithoutFlush()
    {
        var kit = ReadAfterRemap(0, 0, (_, _) => { });
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicA), "the old frame");
    }

    [TestCase(TestName = "Model (SDM 4.10.4.1: MOV CR3 spares global entries): a global translation (PTE.G, CR4.PGE) survives MOV CR3")]
    public void GlobalSurvivesMovCr3()
    {
        var kit = ReadAfterRemap(Cr4.PGE, G, ReloadCr3);
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicA), "the old frame");
    }

    [TestCase(TestName = "Global pages: INVLPG flushes a global translation")]
    public void InvlpgFlushesGlobal()
    {
        var kit = ReadAfterRemap(Cr4.PGE, G, (a, _) => a.invlpg(__byte_ptr[TestLinear]));
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB));
    }

    [TestCase(TestName = "Global pages: a MOV CR4 that changes PGE (clears it) flushes global translations")]
    public void PgeChangeFlushesGlobal()
    {
        var kit = ReadAfterRemap(Cr4.PGE, G, (a, _) => EmitControlChange(a, 4, 0, Cr4.PGE));
        Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB));
    }

    [TestCase(TestName = "MOV CR3: loading other tables makes their translations take effect")]
    public void MovCr3ToOtherTables()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameA, P | RW);
        var other = new PageTableKit(kit.H, PagingMode.Bits32, SecondTableArea);
        other.IdentityMapHarness();
        other.Map(TestLinear, FrameB, P | RW);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[TestLinear]);
            a.mov(eax, other.Root);
            a.mov(cr3, eax);
            a.mov(ecx, __dword_ptr[TestLinear]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "first tables");
            Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB), "second tables");
        });
    }

    [TestCase(TestName = "CR0.WP set takes effect at once: a supervisor write to a read-only page cached by an allowed write faults (3)")]
    public void WpSetTakesEffect()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameA, P);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(__dword_ptr[TestLinear], Mark);
            EmitControlChange(a, 0, Cr0.WP);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(__dword_ptr[TestLinear + 4], Mark);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP | PfW, TestLinear + 4, kit.H.AddressOf(fault));
        Assert.That(kit.H.ReadU32(FrameA), Is.EqualTo(Mark), "the write before CR0.WP was set");
    }

    [TestCase(TestName = "CR0.WP cleared takes effect at once: a supervisor write to a read-only page cached with WP = 1 succeeds")]
    public void WpClearTakesEffect()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameA, P);
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr0Bits: Cr0.WP);
            a.mov(ebx, __dword_ptr[TestLinear]);
            EmitControlChange(a, 0, 0, Cr0.WP);
            a.mov(__dword_ptr[TestLinear], Mark);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.ReadU32(FrameA), Is.EqualTo(Mark));
    }

    [TestCase(TestName = "CR4.SMEP set takes effect at once: a user page the kernel just executed faults on the next fetch (0x11)")]
    public void SmepSetTakesEffect()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Run(
            a =>
            {
                kit.EmitEnable(a);
                a.mov(eax, CpuHarness.UserCodeBase);
                a.call(eax);
                EmitControlChange(a, 4, Cr4.SMEP);
                a.mov(eax, CpuHarness.UserCodeBase);
                a.call(eax);
                a.hlt();
            },
            a => a.ret());
        AssertPageFault(kit.H, PfP | PfI, CpuHarness.UserCodeBase, CpuHarness.UserCodeBase);
    }

    [TestCase(TestName = "CR4.SMAP set takes effect at once: a user page the kernel just read faults on the next read (1)")]
    public void SmapSetTakesEffect()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameA, P | RW | US);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[TestLinear]);
            EmitControlChange(a, 4, Cr4.SMAP);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(ecx, __dword_ptr[TestLinear]);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP, TestLinear, kit.H.AddressOf(fault));
    }

    [TestCase(TestName = "CR4.PSE cleared takes effect at once: the cached 4 MiB translation is dropped, the PDE references a page table")]
    public void PseClearTakesEffect()
    {
        // The PDE (address bits 0, PS) maps the 4 MiB page at 0 with PSE; without PSE page 0 is
        // its page table, whose PTE 0x61 (at 0x184) maps FrameB.
        var kit = Create(PagingMode.Bits32);
        kit.Map(Big, 0, PS | P | RW, level: 2);
        kit.H.WriteU32(0x61 * 4, FrameB | (uint)(P | RW));
        kit.Run(a =>
        {
            kit.EmitEnable(a, Cr4.PSE);
            a.mov(ebx, __dword_ptr[Big + FrameA]);
            EmitControlChange(a, 4, 0, Cr4.PSE);
            a.mov(ecx, __dword_ptr[Big + FrameA]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "with PSE: 4 MiB page");
            Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB), "without PSE: page table at 0");
        });
    }

    [TestCase(TestName = "CR0.PG cleared takes effect at once: linear addresses are physical again")]
    public void PgClearTakesEffect()
    {
        // Linear 0x62000 (FrameB's address) is mapped to FrameA while paging is on.
        var kit = Create(PagingMode.Bits32);
        kit.Map(FrameB, FrameA, P | RW);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[FrameB]);
            EmitControlChange(a, 0, 0, Cr0.PG);
            a.mov(ecx, __dword_ptr[FrameB]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "paged");
            Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB), "unpaged");
        });
    }

    [TestCase(TestName = "CR4.PAE change takes effect at once: from 32-bit to PAE paging (PG off, PAE, CR3, PG on) the PAE tables translate")]
    public void PaeSwitchTakesEffect()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameA, P | RW);
        var pae = new PageTableKit(kit.H, PagingMode.Pae, SecondTableArea);
        pae.IdentityMapHarness();
        pae.Map(TestLinear, FrameB, P | RW);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[TestLinear]);
            EmitControlChange(a, 0, 0, Cr0.PG);
            EmitControlChange(a, 4, Cr4.PAE);
            a.mov(eax, pae.Root);
            a.mov(cr3, eax);
            EmitControlChange(a, 0, Cr0.PG);
            a.mov(ecx, __dword_ptr[TestLinear]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "32-bit tables");
            Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB), "PAE tables");
        });
    }

    [TestCase(TestName = "INVLPG of an address with no translation (PDE not present) does not fault")]
    public void InvlpgUnmappedDoesNotFault()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.invlpg(__byte_ptr[Unmapped + 0x123]);
            a.mov(ebx, Mark);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(Mark), "execution continued");
    }

    [TestCase(TestName = "D: a write through a translation cached by a read still sets D in the PTE (SDM 4.8)")]
    public void WriteAfterCachedReadSetsDirty()
    {
        var kit = Create(PagingMode.Bits32);
        uint pte = kit.Map(TestLinear, FrameA, P | RW);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[TestLinear]);
            a.mov(__dword_ptr[TestLinear + 4], Mark);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.Read(pte) & (A | D), Is.EqualTo(A | D));
    }

    [TestCase(TestName = "#PF invalidates the faulting page's translations (SDM 4.10.4.1): a write retried after making the PTE writable succeeds")]
    public void PageFaultInvalidates()
    {
        // The page is cached read-only (WP = 1); the PTE is made writable in memory without a
        // flush. The write either uses the new PTE at once or takes a spurious #PF (4.10.4.3); the
        // handler (pop the error code, IRETD) retries it, and after a #PF the retry must walk again.
        var kit = Create(PagingMode.Bits32);
        uint pte = kit.Map(TestLinear, FrameA, P);
        kit.H.SetHandler((int)X86Vector.PF, a =>
        {
            a.add(esp, 4);
            a.iretd();
        });
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr0Bits: Cr0.WP);
            a.mov(ebx, __dword_ptr[TestLinear]);
            a.mov(__dword_ptr[pte], (int)(FrameA | P | RW | A));
            a.mov(__dword_ptr[TestLinear], Mark);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.ReadU32(FrameA), Is.EqualTo(Mark), "written");
            Assert.That(kit.Read(pte) & D, Is.EqualTo(D), "D set");
        });
    }
}
