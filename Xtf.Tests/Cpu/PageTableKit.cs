using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>The paging mode a <see cref="PageTableKit"/> builds tables for (SDM vol. 3, 4.1.1).</summary>
public enum PagingMode
{
    /// <summary>32-bit paging: CR4.PAE = 0, 4-byte entries, PD and PT (4.3).</summary>
    Bits32,

    /// <summary>PAE paging: CR4.PAE = 1, EFER.LME = 0, 8-byte entries, 4 PDPTEs, PD and PT (4.4).</summary>
    Pae,

    /// <summary>4-level paging: CR4.PAE = 1, EFER.LME = 1, PML4, PDPT, PD and PT (4.5).</summary>
    FourLevel,
}

/// <summary>
/// Page tables for paging tests, written to guest physical memory before the run (the way a domain
/// builder writes them), and the guest instructions that switch paging on. Memory layout (the
/// machine has 1 MiB):
/// <list type="bullet">
/// <item>[0, 0x80000) is identity-mapped supervisor read/write by <see cref="IdentityMapHarness"/>:
/// the harness's tables, handlers, stacks, code and data, and this kit's own areas, so the harness
/// keeps working and the guest can rewrite entries. The user code page and the user stack page are
/// mapped U=1.</item>
/// <item><see cref="Scratch"/>: pseudo-descriptors; <see cref="Idt64"/>: a 64-bit IDT;
/// <see cref="SplitGdt"/>: a GDT whose entries 0-7 end one supervisor page and whose entry 8 starts
/// the next page (for implicit supervisor accesses to a user page).</item>
/// <item>Page tables are allocated from <see cref="TableArea"/>; test frames are
/// <see cref="FrameA"/>, <see cref="FrameB"/>, <see cref="FrameC"/>; test pages live at linear
/// <see cref="TestLinear"/> and up (a page directory entry of their own in every mode).</item>
/// </list>
/// Non-leaf entries are created P, R/W, U/S = 1 (PAE PDPTEs: P only, their bits 2:1 are reserved),
/// so a leaf decides unless a test changes a non-leaf entry.
/// </summary>
internal sealed class PageTableKit
{
    public const ulong P = 1, RW = 2, US = 4, PWT = 8, PCD = 0x10, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
    public const ulong XD = 1ul << 63;

    public const uint Scratch = 0x40000, Idt64 = 0x41000, SplitGdt = 0x42FC0, SplitGdtUserPage = 0x43000;
    public const uint TableArea = 0x50000, TableAreaEnd = 0x60000;
    public const uint FrameA = 0x61000, FrameB = 0x62000, FrameC = 0x63000;
    public const uint MappedLimit = 0x80000;
    public const uint TestLinear = 0x00800000;

    /// <summary>Selector of the 64-bit code segment <see cref="EmitLoadLongModeTables"/> adds (GDT entry 8).</summary>
    public const ushort Code64 = 8 << 3;

    /// <summary>Magic values written at the start of each test frame (offset 0) by <see cref="FillFrames"/>.</summary>
    public const uint MagicA = 0xAAAA0001, MagicB = 0xBBBB0002, MagicC = 0xCCCC0003;

    private readonly CpuHarness h;
    private uint next;

    /// <param name="tableArea">Where this kit allocates tables (a second kit needs a second area).</param>
    public PageTableKit(CpuHarness h, PagingMode mode, uint tableArea = TableArea)
    {
        this.h = h;
        Mode = mode;
        next = tableArea;
        Root = Allocate();
        FillFrames();
    }

    /// <summary>A fresh harness with a kit whose tables identity-map the harness (<see cref="IdentityMapHarness"/>).</summary>
    public static PageTableKit Create(PagingMode mode)
    {
        var kit = new PageTableKit(new CpuHarness(), mode);
        kit.IdentityMapHarness();
        return kit;
    }

    public CpuHarness H => h;

    /// <summary>Runs kernel (and user) code; the run must end in a HLT (a handler's or the code's own).</summary>
    public void Run(Action<Assembler> kernel, Action<Assembler>? user = null, long budget = 20_000)
    {
        var stop = h.Run(kernel, user, budget: budget);
        Assert.That(stop, Is.EqualTo(StopReason.Halted), "the run ends in a HLT");
    }

    /// <summary>The kernel code reached its own HLT: no exception was delivered.</summary>
    public void AssertNoFault() =>
        Assert.That(h.Vector, Is.Null, () => $"no exception (halted in handler {h.Vector}, error code {h.Frame(0):X}, CR2 {h.Cpu.Cr2:X})");

    /// <summary>#GP(0) was delivered for the instruction at <paramref name="at"/> (a fault: saved EIP = that instruction).</summary>
    public void AssertGeneralProtectionAt(Label at, string instruction)
    {
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP), "#GP");
        Assert.That(h.Frame(0), Is.EqualTo(0u), "error code 0");
        Assert.That(h.Frame(1), Is.EqualTo(h.AddressOf(at)), $"saved EIP = the {instruction}");
    }

    /// <summary>User code reached its INT <see cref="CpuHarness.ExitVector"/>: no fault at CPL 3.</summary>
    public void AssertUserExit() =>
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), () => $"user code ran to INT 0x81 (vector {h.Vector}, error code {h.Frame(0):X}, CR2 {h.Cpu.Cr2:X})");

    public PagingMode Mode { get; }

    /// <summary>Physical address of the top-level table: the value for CR3.</summary>
    public uint Root { get; }

    private int Levels => Mode switch { PagingMode.Bits32 => 2, PagingMode.Pae => 3, _ => 4 };

    private int EntrySize => Mode == PagingMode.Bits32 ? 4 : 8;

    /// <summary>A zeroed page from the table area.</summary>
    public uint Allocate()
    {
        Assert.That(next, Is.LessThan(TableAreaEnd), "page-table area exhausted");
        uint page = next;
        next += 0x1000;
        h.WriteBytes(page, new byte[0x1000]);
        return page;
    }

    /// <summary>Writes the three magic values at offset 0 of the test frames (each frame distinguishable).</summary>
    public void FillFrames()
    {
        h.WriteU32(FrameA, MagicA);
        h.WriteU32(FrameB, MagicB);
        h.WriteU32(FrameC, MagicC);
    }

    /// <summary>Index of <paramref name="linear"/> in the table at <paramref name="level"/> (1 = PT ... 4 = PML4).</summary>
    private int Index(ulong linear, int level) => Mode == PagingMode.Bits32
        ? (int)((linear >> (12 + (10 * (level - 1)))) & 0x3FF)
        : (int)((linear >> (12 + (9 * (level - 1)))) & (Mode == PagingMode.Pae && level == 3 ? 3ul : 0x1FFul));

    private ulong NonLeafFlags(int level) => Mode == PagingMode.Pae && level == 3 ? P : P | RW | US;

    /// <summary>
    /// Physical address of the entry for <paramref name="linear"/> at <paramref name="level"/>,
    /// creating the tables above it (empty tables, non-leaf entries P/RW/US) as needed.
    /// </summary>
    public uint Entry(ulong linear, int level)
    {
        uint table = Root;
        for (int l = Levels; ; l--)
        {
            uint entry = table + (uint)(Index(linear, l) * EntrySize);
            if (l == level)
                return entry;
            ulong value = Read(entry);
            if ((value & P) == 0)
            {
                value = Allocate() | NonLeafFlags(l);
                Write(entry, value);
            }

            table = (uint)(value & 0xFFFFF000);
        }
    }

    /// <summary>
    /// Maps <paramref name="linear"/> to <paramref name="physical"/> with a leaf at
    /// <paramref name="level"/> (1: 4 KiB PTE; 2: PDE, which is a large page when
    /// <paramref name="flags"/> has PS; 3: 4-level PDPTE). Returns the leaf entry's address.
    /// </summary>
    public uint Map(ulong linear, ulong physical, ulong flags, int level = 1)
    {
        uint entry = Entry(linear, level);
        Write(entry, physical | flags);
        return entry;
    }

    public ulong Read(uint entry) => EntrySize == 4 ? h.ReadU32(entry) : h.Cpu.ReadPhysical(entry, 8);

    public void Write(uint entry, ulong value)
    {
        if (EntrySize == 4)
            h.WriteU32(entry, (uint)value);
        else
            h.WriteBytes(entry, BitConverter.GetBytes(value));
    }

    /// <summary>Sets and clears bits of an existing entry.</summary>
    public void Change(uint entry, ulong set, ulong clear = 0) => Write(entry, (Read(entry) & ~clear) | set);

    /// <summary>
    /// Identity-maps [0, <see cref="MappedLimit"/>) with supervisor read/write 4 KiB pages, and the
    /// user code page and user stack page with U/S = 1 as well (user access decided by the leaf).
    /// </summary>
    public void IdentityMapHarness()
    {
        for (uint pa = 0; pa < MappedLimit; pa += 0x1000)
            Map(pa, pa, P | RW);
        Change(Entry(CpuHarness.UserCodeBase, 1), US);
        Change(Entry(CpuHarness.UserStackTop - 0x1000, 1), US);
    }

    /// <summary>
    /// Guest code that switches paging on the architectural way: CR3, then CR4 (PAE, PSE, PGE,
    /// SMEP, SMAP as given), then EFER through RDMSR/WRMSR if <paramref name="efer"/> has bits, then
    /// CR0.PG with <paramref name="cr0"/> (e.g. WP). Clobbers EAX, ECX, EDX.
    /// </summary>
    public static void EmitEnable(Assembler a, uint cr3Value, ulong cr4Bits = 0, ulong eferBits = 0, ulong cr0Bits = 0)
    {
        a.mov(eax, cr3Value);
        a.mov(cr3, eax);
        if (cr4Bits != 0)
        {
            a.mov(eax, cr4);
            a.or(eax, (uint)cr4Bits);
            a.mov(cr4, eax);
        }

        if (eferBits != 0)
            EmitEferOr(a, eferBits);
        a.mov(eax, cr0);
        a.or(eax, (uint)(Cr0.PG | cr0Bits));
        a.mov(cr0, eax);
    }

    /// <summary>RDMSR EFER, OR in <paramref name="bits"/>, WRMSR. Clobbers EAX, ECX, EDX.</summary>
    public static void EmitEferOr(Assembler a, ulong bits)
    {
        a.mov(ecx, X86Cpu.MsrEfer);
        a.rdmsr();
        a.or(eax, (uint)bits);
        a.wrmsr();
    }

    /// <summary>Guest code: MOV EAX, CR<paramref name="n"/>; AND/OR; MOV CR<paramref name="n"/>, EAX.</summary>
    public static void EmitControlChange(Assembler a, int n, ulong set, ulong clear = 0)
    {
        var cr = n switch { 0 => cr0, 3 => cr3, _ => cr4 };
        a.mov(eax, cr);
        if (clear != 0)
            a.and(eax, ~(uint)clear);
        if (set != 0)
            a.or(eax, (uint)set);
        a.mov(cr, eax);
    }

    /// <summary>The enable sequence for this kit's mode (PAE for PAE, PAE + LME for 4-level).</summary>
    public void EmitEnable(Assembler a, ulong cr4Bits = 0, ulong eferBits = 0, ulong cr0Bits = 0)
    {
        ulong cr4Mode = Mode == PagingMode.Bits32 ? 0 : Cr4.PAE;
        ulong eferMode = Mode == PagingMode.FourLevel ? Efer.LME : 0;
        EmitEnable(a, Root, cr4Bits | cr4Mode, eferBits | eferMode, cr0Bits);
    }

    /// <summary>
    /// Prepares (host side) what a fault in IA-32e mode needs: GDT entry 8 = a 64-bit DPL0 code
    /// segment, and at <see cref="Idt64"/> 16-byte interrupt gates for vectors 0-31 to the harness's
    /// HLT handlers through that segment (SDM vol. 3, 6.14.1). Call before <see cref="CpuHarness.Run"/>.
    /// </summary>
    public void PrepareLongModeTables()
    {
        h.WriteBytes(CpuHarness.GdtBase + Code64, BitConverter.GetBytes(SegmentDescriptor.Flat(0xA, 0, big: false, longMode: true).Raw));
        WritePseudoDescriptor(Scratch, (9 * 8) - 1, CpuHarness.GdtBase);
        WritePseudoDescriptor(Scratch + 0x10, (256 * 16) - 1, Idt64);
        for (uint v = 0; v < 32; v++)
        {
            uint handler = CpuHarness.HandlerBase + (16 * v);
            ulong low = (handler & 0xFFFF) | ((ulong)Code64 << 16) | (0x8Eul << 40) | ((ulong)(handler & 0xFFFF0000) << 32);
            h.WriteBytes(Idt64 + (16 * v), BitConverter.GetBytes(low));
            h.WriteBytes(Idt64 + (16 * v) + 8, new byte[8]);
        }
    }

    /// <summary>Guest code loading the GDT and IDT of <see cref="PrepareLongModeTables"/> (after EFER.LMA is set).</summary>
    public static void EmitLoadLongModeTables(Assembler a)
    {
        a.lgdt(__fword_ptr[Scratch]);
        a.lidt(__fword_ptr[Scratch + 0x10]);
    }

    /// <summary>
    /// Prepares <see cref="SplitGdt"/>: a copy of the harness's eight descriptors ending at the last
    /// byte of a supervisor page, and entry 8 = <paramref name="entry8"/> at the start of
    /// <see cref="SplitGdtUserPage"/>, which is mapped U/S = 1. The guest loads it with
    /// <see cref="EmitLoadSplitGdt"/>.
    /// </summary>
    public void PrepareSplitGdt(SegmentDescriptor entry8)
    {
        h.WriteBytes(SplitGdtUserPage, BitConverter.GetBytes(entry8.Raw));
        WritePseudoDescriptor(Scratch + 0x20, (9 * 8) - 1, SplitGdt);
        Change(Entry(SplitGdtUserPage, 1), US);
    }

    /// <summary>Guest code: copy the harness's GDT entries 0-7 to <see cref="SplitGdt"/> (REP MOVSD), then LGDT it.</summary>
    public static void EmitLoadSplitGdt(Assembler a)
    {
        a.mov(esi, CpuHarness.GdtBase);
        a.mov(edi, SplitGdt);
        a.mov(ecx, 16);
        a.cld();
        a.rep.movsd();
        a.lgdt(__fword_ptr[Scratch + 0x20]);
    }

    private void WritePseudoDescriptor(uint address, ushort limit, uint @base)
    {
        var bytes = new byte[6];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), limit);
        BitConverter.TryWriteBytes(bytes.AsSpan(2), @base);
        h.WriteBytes(address, bytes);
    }

    /// <summary>CPUID as the machine answers it (the guest's CPUID instruction asks the same source).</summary>
    public static CpuidResult Cpuid(CpuHarness h, uint leaf, uint subleaf = 0) => h.Cpu.Intercepts.Cpuid(h.Cpu, leaf, subleaf);

    /// <summary>
    /// MAXPHYADDR (SDM vol. 3, 4.1.4): CPUID.80000008H:EAX[7:0] where that leaf exists, else 36
    /// (processors with PAE but no leaf 80000008H).
    /// </summary>
    public static int MaxPhysAddr(CpuHarness h) =>
        Cpuid(h, 0x80000000).Eax >= 0x80000008 ? (int)(Cpuid(h, 0x80000008).Eax & 0xFF) : 36;

    /// <summary>Asserts a #PF delivered through the harness's 32-bit gate at CPL0 (frame: error code, EIP, ...).</summary>
    public static void AssertPageFault(CpuHarness h, uint errorCode, ulong cr2, uint eip)
    {
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.PF), "#PF (vector 14)");
            Assert.That(h.Frame(0), Is.EqualTo(errorCode), "error code");
            Assert.That(h.Cpu.Cr2, Is.EqualTo(cr2), "CR2 = the faulting linear address");
            Assert.That(h.Frame(1), Is.EqualTo(eip), "saved EIP = the faulting instruction");
        });
    }

    /// <summary>#PF error-code bits (SDM vol. 3, 4.7).</summary>
    public const uint PfP = 1, PfW = 2, PfU = 4, PfRsvd = 8, PfI = 0x10;
}
