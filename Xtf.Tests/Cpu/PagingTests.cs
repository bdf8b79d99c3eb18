using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.PageTableKit;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Linear-address translation in the three paging modes a 32-bit guest can switch on (SDM vol. 3,
/// chapter 4): 32-bit paging (4.3), PAE paging (4.4) and 4-level paging entered from protected mode,
/// which leaves the processor in compatibility mode (4.5, 10.8.5). Every mode switch is done by the
/// guest with MOV CRn / WRMSR; the tables are written before the run. Expected frames come from the
/// entry formats (tables 4-4 to 4-6, 4-8 to 4-11, 4-14 to 4-19).
/// </summary>
[TestFixture]
public sealed class PagingTests
{
    /// <summary>A linear 4 MiB region (PDE 3 in 32-bit paging) for large pages based at physical 0.</summary>
    private const uint Big = 0x00C00000;

    /// <summary>A linear 2 MiB region (PAE/4-level PD index 5) for large pages based at physical 0.</summary>
    private const uint Big2M = 0x00A00000;

    private const uint Unmapped = 0x01000000;

    // ---- 32-bit paging (SDM vol. 3, 4.3) ----

    [TestCase(PagingMode.Bits32, TestName = "32-bit paging: a 4 KiB PTE maps the linear page to PTE bits 31:12, the offset is linear bits 11:0")]
    [TestCase(PagingMode.Pae, TestName = "PAE paging: a 4 KiB page through PDPTE, PDE and PTE (8-byte entries)")]
    public void FourKiBPage(PagingMode mode)
    {
        var kit = Create(mode);
        kit.Map(TestLinear, FrameB, P | RW);
        kit.H.WriteU32(FrameB + 0x234, 0x600DF00D);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[TestLinear + 0x234]);
            a.mov(__dword_ptr[TestLinear + 0x238], 0x1234567);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(0x600DF00Du), "read of 0x800234 comes from 0x62234");
            Assert.That(kit.H.ReadU32(FrameB + 0x238), Is.EqualTo(0x1234567u), "write of 0x800238 lands at 0x62238");
        });
    }

    [TestCase(TestName = "32-bit paging with CR4.PSE: a PDE with PS maps a 4 MiB page (PDE bits 31:22, offset bits 21:0)")]
    public void Bits32FourMiBPageWithPse()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(Big, 0, PS | P | RW, level: 2);
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr4Bits: Cr4.PSE);
            a.mov(ebx, __dword_ptr[Big + FrameA]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "0xC61000 = 4 MiB page at 0 + 0x61000");
    }

    [TestCase(TestName = "32-bit paging without CR4.PSE: PS in a PDE is ignored, the PDE references a page table")]
    public void Bits32PsIgnoredWithoutPse()
    {
        // SDM 4.3: with CR4.PSE = 0 a PDE always references a page table (bits 31:12), whatever bit 7.
        // The PDE's address bits are 0, so page 0 is the page table: PTE 0x61 at 0x184 maps FrameB.
        // With PSE the same PDE would map the 4 MiB page at 0 (and 0xC61000 would read FrameA).
        var kit = Create(PagingMode.Bits32);
        kit.Map(Big, 0, PS | P | RW, level: 2);
        kit.H.WriteU32(0x61 * 4, FrameB | (uint)(P | RW));
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[Big + FrameA]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicB), "translated through the page table at 0");
    }

    [TestCase(TestName = "32-bit paging: a not-present PDE faults #PF, error code 0 (P=0, read, supervisor), CR2 = the address")]
    public void Bits32NotPresentPde()
    {
        var kit = Create(PagingMode.Bits32);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(ebx, __dword_ptr[Unmapped + 0x124]);
            a.hlt();
        });
        AssertPageFault(kit.H, 0, Unmapped + 0x124, kit.H.AddressOf(fault));
    }

    [TestCase(TestName = "32-bit paging: a not-present PTE faults on a write, error code W/R set (2)")]
    public void Bits32NotPresentPteWrite()
    {
        var kit = Create(PagingMode.Bits32);
        _ = kit.Entry(TestLinear, 1); // the page table exists, the PTE is 0
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(__dword_ptr[TestLinear + 0x10], ebx);
            a.hlt();
        });
        AssertPageFault(kit.H, PfW, TestLinear + 0x10, kit.H.AddressOf(fault));
    }

    [TestCase(false, TestName = "32-bit paging: a read sets A in the PDE and the PTE, not D")]
    [TestCase(true, TestName = "32-bit paging: a write sets A in the PDE and A and D in the PTE; the PDE's bit 6 is left alone")]
    public void Bits32AccessedDirty(bool write)
    {
        // SDM 4.8: A in every paging-structure entry used; D only in the entry that maps the page,
        // and only for a write. Bit 6 of a PDE that references a page table is ignored (table 4-5).
        var kit = Create(PagingMode.Bits32);
        uint pte = kit.Map(TestLinear, FrameB, P | RW);
        uint pde = kit.Entry(TestLinear, 2);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            if (write)
                a.mov(__dword_ptr[TestLinear], ebx);
            else
                a.mov(ebx, __dword_ptr[TestLinear]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.Read(pde) & (A | D), Is.EqualTo(A), "PDE: A");
            Assert.That(kit.Read(pte) & (A | D), Is.EqualTo(write ? A | D : A), "PTE: A, and D for a write");
        });
    }

    [TestCase(TestName = "32-bit paging with PSE: a write through a 4 MiB page sets A and D in the PDE")]
    public void Bits32FourMiBDirty()
    {
        var kit = Create(PagingMode.Bits32);
        uint pde = kit.Map(Big, 0, PS | P | RW, level: 2);
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr4Bits: Cr4.PSE);
            a.mov(__dword_ptr[Big + FrameC + 4], ebx);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.Read(pde) & (A | D), Is.EqualTo(A | D), "the PDE maps the page: A and D");
    }

    [TestCase(TestName = "32-bit paging with PSE: bit 21 of a 4 MiB PDE is reserved, #PF error code P|RSVD (9)")]
    public void Bits32FourMiBReservedBit()
    {
        // SDM table 4-4: bits 21:(M-19) of a 4 MiB PDE are reserved, M = min(MAXPHYADDR, 40), so
        // bit 21 is reserved for every M; 4.7: RSVD with P = 1 (the entry was present).
        var kit = Create(PagingMode.Bits32);
        kit.Map(Big, 0, PS | P | RW | (1ul << 21), level: 2);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a, cr4Bits: Cr4.PSE);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(ebx, __dword_ptr[Big + 8]);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP | PfRsvd, Big + 8, kit.H.AddressOf(fault));
    }

    [TestCase(TestName = "32-bit paging: instructions are fetched through the translation (code at linear 0x800000 in frame 0x63000)")]
    public void Bits32FetchThroughPage()
    {
        var kit = Create(PagingMode.Bits32);
        kit.Map(TestLinear, FrameC, P | RW);
        kit.H.Load(FrameC, a =>
        {
            a.mov(ebx, 0x5A5A5A5A);
            a.hlt();
        });
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(eax, TestLinear);
            a.jmp(eax);
        });
        Assert.Multiple(() =>
        {
            kit.AssertNoFault();
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(0x5A5A5A5Au), "the code in frame 0x63000 ran");
            Assert.That(kit.H.Cpu.Rip, Is.EqualTo((ulong)TestLinear + 6), "EIP is linear: after the HLT at 0x800005");
        });
    }

    // ---- PAE paging (SDM vol. 3, 4.4) ----

    [TestCase(TestName = "PAE paging: a PDE with PS maps a 2 MiB page, without CR4.PSE (PDE bits 51:21, offset bits 20:0)")]
    public void PaeTwoMiBPage()
    {
        // SDM 4.4.2: PAE paging uses PS in a PDE whatever CR4.PSE.
        var kit = Create(PagingMode.Pae);
        kit.Map(Big2M, 0, PS | P | RW, level: 2);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[Big2M + FrameA]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "0xA61000 = 2 MiB page at 0 + 0x61000");
    }

    [TestCase(TestName = "PAE paging: a write sets A in the PDE, A and D in the PTE; the PDPTE (no A bit) is unchanged")]
    public void PaeAccessedDirty()
    {
        // SDM table 4-8: PDPTE bit 5 is reserved, the processor does not set it; 4.8 for PDE and PTE.
        var kit = Create(PagingMode.Pae);
        uint pte = kit.Map(TestLinear, FrameB, P | RW);
        uint pde = kit.Entry(TestLinear, 2), pdpte = kit.Entry(TestLinear, 3);
        ulong pdpteBefore = kit.Read(pdpte);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(__dword_ptr[TestLinear], ebx);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.Read(pdpte), Is.EqualTo(pdpteBefore), "PDPTE untouched");
            Assert.That(kit.Read(pde) & (A | D), Is.EqualTo(A), "PDE: A only");
            Assert.That(kit.Read(pte) & (A | D), Is.EqualTo(A | D), "PTE: A and D");
        });
    }

    [TestCase(1, TestName = "PAE paging: MOV CR3 loads the PDPTEs; bit 1 (reserved) in a present PDPTE is #GP(0), CR3 unchanged")]
    [TestCase(2, TestName = "PAE paging: MOV CR3 with bit 2 (reserved) in a present PDPTE is #GP(0)")]
    [TestCase(5, TestName = "PAE paging: MOV CR3 with bit 5 (reserved, no A bit) in a present PDPTE is #GP(0)")]
    [TestCase(63, TestName = "PAE paging: MOV CR3 with bit 63 (reserved, no XD in a PDPTE) in a present PDPTE is #GP(0)")]
    [TestCase(-1, TestName = "PAE paging: MOV CR3 with bit MAXPHYADDR (reserved) in a present PDPTE is #GP(0)")]
    public void PaePdpteReservedBitAtMovCr3(int bit)
    {
        // SDM 4.4.1: MOV to CR3 with PAE paging in use loads the four PDPTEs; a present one with a
        // reserved bit set (table 4-8: 2:1, 8:5, 63:MAXPHYADDR) makes the MOV fault #GP(0).
        var kit = Create(PagingMode.Pae);
        int b = bit < 0 ? MaxPhysAddr(kit.H) : bit;
        if (bit < 0 && b >= 52)
            Assert.Ignore("MAXPHYADDR is 52: no address bit is reserved");
        uint other = kit.Allocate();
        kit.Write(other, kit.Read(kit.Root)); // PDPTE 0: the identity map
        kit.Write(other + 24, kit.Allocate() | P | (1ul << b));
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(eax, other);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(cr3, eax);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            kit.AssertGeneralProtectionAt(fault, "MOV CR3");
            Assert.That(kit.H.Cpu.Cr3, Is.EqualTo(kit.Root), "CR3 unchanged");
        });
    }

    [TestCase(TestName = "PAE paging: a not-present PDPTE's other bits are not checked, MOV CR3 succeeds")]
    public void PaeNotPresentPdpteNotChecked()
    {
        var kit = Create(PagingMode.Pae);
        uint other = kit.Allocate();
        kit.Write(other, kit.Read(kit.Root));
        kit.Write(other + 24, (1ul << 63) | RW | US | A);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(eax, other);
            a.mov(cr3, eax);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Cr3, Is.EqualTo(other), "CR3 loaded");
    }

    [TestCase(TestName = "PAE paging: MOV CR0 that sets PG loads the PDPTEs; a reserved bit is #GP(0) and PG stays clear")]
    public void PaePdpteReservedBitAtMovCr0()
    {
        var kit = Create(PagingMode.Pae);
        kit.Write(kit.Root + 24, kit.Allocate() | P | RW);
        Label fault = default;
        kit.Run(a =>
        {
            a.mov(eax, kit.Root);
            a.mov(cr3, eax);
            EmitControlChange(a, 4, Cr4.PAE);
            a.mov(eax, cr0);
            a.or(eax, (uint)Cr0.PG);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(cr0, eax);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            kit.AssertGeneralProtectionAt(fault, "MOV CR0");
            Assert.That(kit.H.Cpu.Cr0Value & Cr0.PG, Is.EqualTo(0ul), "paging not enabled");
        });
    }

    [TestCase(TestName = "PAE paging: MOV CR4 that changes PGE reloads the PDPTEs; a reserved bit written since is #GP(0)")]
    public void PaePdpteReloadAtCr4PgeChange()
    {
        // SDM 4.4.1: with PAE paging in use after the MOV to CR4, a change of PGE (or PSE, PAE, SMEP)
        // loads the PDPTEs from CR3 again.
        var kit = Create(PagingMode.Pae);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(__dword_ptr[kit.Root + 24], (int)(P | RW)); // PDPTE 3: P with reserved bit 1
            a.mov(eax, cr4);
            a.or(eax, (uint)Cr4.PGE);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(cr4, eax);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            kit.AssertGeneralProtectionAt(fault, "MOV CR4");
            Assert.That(kit.H.Cpu.Cr4Value & Cr4.PGE, Is.EqualTo(0ul), "CR4.PGE unchanged");
        });
    }

    [TestCase(TestName = "PAE paging: translations use the PDPTE registers loaded by MOV CR3, not the PDPT in memory, until CR3 is written")]
    public void PaePdpteRegisters()
    {
        // SDM 4.4.1: the PDPTEs live in internal registers loaded at MOV CR3 (and the CR0/CR4 writes
        // above); a change of the PDPT in memory is seen at the next load. Linear 0x40000000 is
        // PDPTE 1; it references a PD mapping FrameA, and the guest repoints it to one mapping FrameB.
        const uint linear = 0x40000000;
        var kit = Create(PagingMode.Pae);
        kit.Map(linear, FrameA, P | RW);
        uint pdB = kit.Allocate(), ptB = kit.Allocate();
        kit.Write(pdB, ptB | P | RW | US);
        kit.Write(ptB, FrameB | P | RW);
        uint pdpte1 = kit.Entry(linear, 3);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(__dword_ptr[pdpte1], (int)(pdB | P));
            a.mov(ebx, __dword_ptr[linear]);
            a.mov(eax, cr3);
            a.mov(cr3, eax);
            a.mov(ecx, __dword_ptr[linear]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicA), "before MOV CR3: the PDPTE register still references the first PD");
            Assert.That(kit.H.Cpu.Ecx, Is.EqualTo(MagicB), "after MOV CR3: the new PDPTE");
        });
    }

    [TestCase(TestName = "PAE paging: a not-present PDPTE faults #PF, error code 0, CR2 = the address")]
    public void PaeNotPresentPdpte()
    {
        var kit = Create(PagingMode.Pae);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(ebx, __dword_ptr[0xC0001000]);
            a.hlt();
        });
        AssertPageFault(kit.H, 0, 0xC0001000, kit.H.AddressOf(fault));
    }

    [TestCase("pte", false, TestName = "PAE paging: bit MAXPHYADDR of a PTE is reserved, a read faults P|RSVD (9)")]
    [TestCase("pte", true, TestName = "PAE paging: bit MAXPHYADDR of a PTE is reserved, a write faults P|W|RSVD (0xB)")]
    [TestCase("pde", false, TestName = "PAE paging: bit MAXPHYADDR of a PDE referencing a page table is reserved, P|RSVD (9)")]
    [TestCase("2m", false, TestName = "PAE paging: bit 13 of a 2 MiB PDE is reserved (bits 20:13), P|RSVD (9)")]
    [TestCase("xd", false, TestName = "PAE paging with EFER.NXE = 0: bit 63 (XD) of a PTE is reserved, P|RSVD (9)")]
    public void PaeReservedBits(string where, bool write)
    {
        // SDM tables 4-9 to 4-11: reserved bits 63:MAXPHYADDR (bit 63 only with NXE = 1 is XD) and
        // 20:13 of a 2 MiB PDE; 4.7: a reserved bit in a present entry gives RSVD = 1, P = 1.
        var kit = Create(PagingMode.Pae);
        int m = MaxPhysAddr(kit.H);
        if (m >= 52 && where is "pte" or "pde")
            Assert.Ignore("MAXPHYADDR is 52: no address bit is reserved");
        uint linear = where == "2m" ? Big2M : TestLinear;
        switch (where)
        {
            case "pte": kit.Map(linear, FrameB | (1ul << m), P | RW); break;
            case "pde": kit.Map(linear, FrameB, P | RW); kit.Change(kit.Entry(linear, 2), 1ul << m); break;
            case "2m": kit.Map(linear, 0, PS | P | RW | (1ul << 13), level: 2); break;
            default: kit.Map(linear, FrameB, P | RW | XD); break;
        }

        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            if (write)
                a.mov(__dword_ptr[linear + 0x40], ebx);
            else
                a.mov(ebx, __dword_ptr[linear + 0x40]);
            a.hlt();
        });
        AssertPageFault(kit.H, PfP | PfRsvd | (write ? PfW : 0), linear + 0x40, kit.H.AddressOf(fault));
    }

    // ---- 4-level paging from protected mode: IA-32e compatibility mode (SDM vol. 3, 4.5, 10.8.5) ----

    [TestCase(TestName = "4-level paging: EFER.LME, CR4.PAE, then CR0.PG sets EFER.LMA; CS stays the 32-bit segment (compatibility mode)")]
    public void FourLevelActivation()
    {
        var kit = Create(PagingMode.FourLevel);
        kit.Map(TestLinear, FrameB, P | RW);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[TestLinear]);
            a.mov(ecx, X86Cpu.MsrEfer);
            a.rdmsr();
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.H.Cpu.Eax & (uint)(Efer.LME | Efer.LMA), Is.EqualTo((uint)(Efer.LME | Efer.LMA)), "RDMSR EFER: LME and LMA");
            Assert.That(kit.H.Cpu.Segments[X86Cpu.CS].Selector, Is.EqualTo(CpuHarness.KernelCode), "CS unchanged");
            Assert.That(kit.H.Cpu.Bitness, Is.EqualTo(32), "compatibility mode runs the 32-bit segment as 32-bit code");
            Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(MagicB), "0x800000 translated through PML4E, PDPTE, PDE, PTE");
        });
    }

    [TestCase(1, TestName = "4-level paging: a 4 KiB page through PML4E, PDPTE, PDE and PTE")]
    [TestCase(2, TestName = "4-level paging: a PDE with PS maps a 2 MiB page")]
    [TestCase(3, TestName = "4-level paging: a PDPTE with PS maps a 1 GiB page (CPUID.80000001H:EDX[26])")]
    public void FourLevelPageSizes(int level)
    {
        var kit = Create(PagingMode.FourLevel);
        if (level == 3 && (Cpuid(kit.H, 0x80000000).Eax < 0x80000001 || (Cpuid(kit.H, 0x80000001).Edx & (1u << 26)) == 0))
            Assert.Ignore("no 1 GiB pages (CPUID.80000001H:EDX[26] = 0)");

        // Large pages are based at physical 0, so linear base + 0x61000 reads FrameA; the 4 KiB
        // page maps FrameB.
        uint linear = level switch { 1 => TestLinear, 2 => Big2M, _ => 0x40000000 };
        uint offset = level == 1 ? 0 : FrameA;
        kit.Map(linear, level == 1 ? FrameB : 0, (level == 1 ? 0 : PS) | P | RW, level);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ebx, __dword_ptr[linear + offset]);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.That(kit.H.Cpu.Ebx, Is.EqualTo(level == 1 ? MagicB : MagicA));
    }

    [TestCase(TestName = "4-level paging: a write sets A in the PML4E, PDPTE and PDE, and A and D in the PTE only")]
    public void FourLevelAccessedDirty()
    {
        var kit = Create(PagingMode.FourLevel);
        uint pte = kit.Map(TestLinear, FrameB, P | RW);
        uint pde = kit.Entry(TestLinear, 2), pdpte = kit.Entry(TestLinear, 3), pml4e = kit.Entry(TestLinear, 4);
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(__dword_ptr[TestLinear], ebx);
            a.hlt();
        });
        kit.AssertNoFault();
        Assert.Multiple(() =>
        {
            Assert.That(kit.Read(pml4e) & (A | D), Is.EqualTo(A), "PML4E: A");
            Assert.That(kit.Read(pdpte) & (A | D), Is.EqualTo(A), "PDPTE: A");
            Assert.That(kit.Read(pde) & (A | D), Is.EqualTo(A), "PDE: A");
            Assert.That(kit.Read(pte) & (A | D), Is.EqualTo(A | D), "PTE: A and D");
        });
    }

    [TestCase(TestName = "4-level paging: a not-present PTE faults #PF through a 64-bit IDT gate: error code 0, CR2, RIP")]
    public void FourLevelNotPresent()
    {
        var kit = Create(PagingMode.FourLevel);
        kit.PrepareLongModeTables();
        _ = kit.Entry(TestLinear, 1);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            EmitLoadLongModeTables(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(ebx, __dword_ptr[TestLinear + 0x20]);
            a.hlt();
        });
        AssertLongModeFault(kit.H, X86Vector.PF, 0, kit.H.AddressOf(fault));
        Assert.That(kit.H.Cpu.Cr2, Is.EqualTo(TestLinear + 0x20), "CR2");
    }

    [TestCase(TestName = "4-level paging: bit MAXPHYADDR of a PDPTE is reserved, #PF P|RSVD (9)")]
    public void FourLevelReservedBit()
    {
        const uint linear = 0x40000000;
        var kit = Create(PagingMode.FourLevel);
        int m = MaxPhysAddr(kit.H);
        if (m >= 52)
            Assert.Ignore("MAXPHYADDR is 52: no address bit is reserved");
        kit.PrepareLongModeTables();
        kit.Map(linear, FrameB, P | RW);
        kit.Change(kit.Entry(linear, 3), 1ul << m);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            EmitLoadLongModeTables(a);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(ebx, __dword_ptr[linear]);
            a.hlt();
        });
        AssertLongModeFault(kit.H, X86Vector.PF, PfP | PfRsvd, kit.H.AddressOf(fault));
        Assert.That(kit.H.Cpu.Cr2, Is.EqualTo((ulong)linear), "CR2");
    }

    [TestCase(TestName = "#GP(0): MOV CR0 setting PG with EFER.LME = 1 and CR4.PAE = 0; PG and LMA stay clear")]
    public void LmeWithoutPaeFaults()
    {
        // SDM vol. 2, MOV CR0: IF CR0.PG = 1 and CR4.PAE = 0 and IA32_EFER.LME = 1 THEN #GP(0).
        var kit = Create(PagingMode.Bits32);
        Label fault = default;
        kit.Run(a =>
        {
            EmitEferOr(a, Efer.LME);
            a.mov(eax, kit.Root);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, (uint)Cr0.PG);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(cr0, eax);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            kit.AssertGeneralProtectionAt(fault, "MOV CR0");
            Assert.That(kit.H.Cpu.Cr0Value & Cr0.PG, Is.EqualTo(0ul), "PG clear");
            Assert.That(kit.H.Cpu.EferValue & Efer.LMA, Is.EqualTo(0ul), "LMA clear");
        });
    }

    [TestCase(TestName = "#GP(0): MOV CR4 clearing PAE while EFER.LMA = 1 (compatibility mode); CR4.PAE stays set")]
    public void ClearPaeInLongModeFaults()
    {
        var kit = Create(PagingMode.FourLevel);
        kit.PrepareLongModeTables();
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            EmitLoadLongModeTables(a);
            a.mov(eax, cr4);
            a.and(eax, ~(uint)Cr4.PAE);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.mov(cr4, eax);
            a.hlt();
        });
        AssertLongModeFault(kit.H, X86Vector.GP, 0, kit.H.AddressOf(fault));
        Assert.That(kit.H.Cpu.Cr4Value & Cr4.PAE, Is.EqualTo(Cr4.PAE), "CR4.PAE still set");
    }

    [TestCase(TestName = "#GP(0): WRMSR changing EFER.LME while CR0.PG = 1; EFER unchanged")]
    public void LmeChangeWhilePagingFaults()
    {
        // SDM vol. 3, 10.8.5 / WRMSR: EFER.LME cannot be changed while paging is enabled.
        var kit = Create(PagingMode.Bits32);
        Label fault = default;
        kit.Run(a =>
        {
            kit.EmitEnable(a);
            a.mov(ecx, X86Cpu.MsrEfer);
            a.rdmsr();
            a.or(eax, (uint)Efer.LME);
            fault = a.CreateLabel();
            a.Label(ref fault);
            a.wrmsr();
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            kit.AssertGeneralProtectionAt(fault, "WRMSR");
            Assert.That(kit.H.Cpu.EferValue & Efer.LME, Is.EqualTo(0ul), "LME clear");
        });
    }

    /// <summary>
    /// A fault delivered through a 64-bit gate at CPL 0 (SDM vol. 3, 6.14.2): 8-byte slots, error
    /// code at RSP, RIP at RSP + 8.
    /// </summary>
    internal static void AssertLongModeFault(CpuHarness h, X86Vector vector, uint errorCode, uint rip)
    {
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)vector), "vector");
            Assert.That(h.Frame(0), Is.EqualTo(errorCode), "error code (low dword of its 8-byte slot)");
            Assert.That(h.Frame(2), Is.EqualTo(rip), "saved RIP = the faulting instruction");
            Assert.That(h.Frame(3), Is.EqualTo(0u), "RIP bits 63:32");
        });
    }
}
