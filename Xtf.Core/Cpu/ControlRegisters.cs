namespace Xtf.Core.Cpu;

/// <summary>CR0 bits (SDM vol. 3, 2.5).</summary>
public static class Cr0
{
    /// <summary>CR0.PE (bit 0): protection enable; segmentation runs in protected mode when set.</summary>
    public const ulong PE = 1ul << 0;
    /// <summary>CR0.MP (bit 1): monitor coprocessor; with TS set, WAIT/FWAIT raise #NM.</summary>
    public const ulong MP = 1ul << 1;
    /// <summary>CR0.EM (bit 2): x87 emulation; x87 instructions raise #NM, SSE instructions #UD.</summary>
    public const ulong EM = 1ul << 2;
    /// <summary>CR0.TS (bit 3): task switched; the next x87/SSE instruction raises #NM (lazy FPU switching).</summary>
    public const ulong TS = 1ul << 3;
    /// <summary>CR0.ET (bit 4): extension type; hardwired to 1 on P6 and later.</summary>
    public const ulong ET = 1ul << 4;
    /// <summary>CR0.NE (bit 5): numeric error; x87 errors are reported as #MF rather than through FERR#.</summary>
    public const ulong NE = 1ul << 5;
    /// <summary>CR0.WP (bit 16): write protect; supervisor writes honour read-only pages (SDM vol. 3, 4.6.1).</summary>
    public const ulong WP = 1ul << 16;
    /// <summary>CR0.AM (bit 18): alignment mask; with EFLAGS.AC set, misaligned accesses at CPL 3 raise #AC.</summary>
    public const ulong AM = 1ul << 18;
    /// <summary>CR0.NW (bit 29): not write-through (cache control; no effect in the emulator).</summary>
    public const ulong NW = 1ul << 29;
    /// <summary>CR0.CD (bit 30): cache disable (cache control; no effect in the emulator).</summary>
    public const ulong CD = 1ul << 30;
    /// <summary>CR0.PG (bit 31): paging enable; requires PE.</summary>
    public const ulong PG = 1ul << 31;
}

/// <summary>CR4 bits (SDM vol. 3, 2.5).</summary>
public static class Cr4
{
    /// <summary>CR4.VME (bit 0): virtual-8086 mode extensions (VIF/VIP and the interrupt redirection bitmap).</summary>
    public const ulong VME = 1ul << 0;
    /// <summary>CR4.PVI (bit 1): protected-mode virtual interrupts (CLI/STI at CPL 3 with IOPL &lt; 3 act on VIF).</summary>
    public const ulong PVI = 1ul << 1;
    /// <summary>CR4.TSD (bit 2): time stamp disable; RDTSC/RDTSCP outside CPL 0 raise #GP(0).</summary>
    public const ulong TSD = 1ul << 2;
    /// <summary>CR4.DE (bit 3): debugging extensions; DR4/DR5 references raise #UD instead of aliasing DR6/DR7.</summary>
    public const ulong DE = 1ul << 3;
    /// <summary>CR4.PSE (bit 4): page size extensions; 4 MiB pages in 32-bit (non-PAE) paging.</summary>
    public const ulong PSE = 1ul << 4;
    /// <summary>CR4.PAE (bit 5): physical address extension; 64-bit page-table entries, required for long mode.</summary>
    public const ulong PAE = 1ul << 5;
    /// <summary>CR4.MCE (bit 6): machine-check enable.</summary>
    public const ulong MCE = 1ul << 6;
    /// <summary>CR4.PGE (bit 7): page global enable; G-bit translations survive CR3 writes.</summary>
    public const ulong PGE = 1ul << 7;
    /// <summary>CR4.PCE (bit 8): performance-monitoring counter enable; RDPMC allowed at any CPL.</summary>
    public const ulong PCE = 1ul << 8;
    /// <summary>CR4.OSFXSR (bit 9): OS supports FXSAVE/FXRSTOR; SSE instructions are enabled.</summary>
    public const ulong OSFXSR = 1ul << 9;
    /// <summary>CR4.OSXMMEXCPT (bit 10): unmasked SIMD floating-point exceptions raise #XM rather than #UD.</summary>
    public const ulong OSXMMEXCPT = 1ul << 10;
    /// <summary>CR4.UMIP (bit 11): user-mode instruction prevention; SGDT/SIDT/SLDT/SMSW/STR at CPL &gt; 0 raise #GP(0).</summary>
    public const ulong UMIP = 1ul << 11;
    /// <summary>CR4.FSGSBASE (bit 16): enables RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE.</summary>
    public const ulong FSGSBASE = 1ul << 16;
    /// <summary>CR4.OSXSAVE (bit 18): enables XSAVE/XRSTOR and XGETBV/XSETBV; reflected in CPUID.1:ECX.OSXSAVE.</summary>
    public const ulong OSXSAVE = 1ul << 18;
    /// <summary>CR4.SMEP (bit 20): supervisor-mode execution prevention; CPL &lt; 3 fetches from user pages raise #PF (SDM vol. 3, 4.6.1).</summary>
    public const ulong SMEP = 1ul << 20;
    /// <summary>CR4.SMAP (bit 21): supervisor-mode access prevention; CPL &lt; 3 data accesses to user pages raise #PF unless EFLAGS.AC (SDM vol. 3, 4.6.1).</summary>
    public const ulong SMAP = 1ul << 21;
}

/// <summary>EFER bits (SDM vol. 3, 2.2.1).</summary>
public static class Efer
{
    /// <summary>EFER.SCE (bit 0): SYSCALL/SYSRET enable; without it both raise #UD.</summary>
    public const ulong SCE = 1ul << 0;
    /// <summary>EFER.LME (bit 8): long mode enable; long mode activates when paging is enabled with LME set.</summary>
    public const ulong LME = 1ul << 8;
    /// <summary>EFER.LMA (bit 10): long mode active; read-only, set by the processor when CR0.PG is set with LME.</summary>
    public const ulong LMA = 1ul << 10;
    /// <summary>EFER.NXE (bit 11): execute-disable enable; PAE/4-level PTE bit 63 becomes XD instead of reserved.</summary>
    public const ulong NXE = 1ul << 11;
}
