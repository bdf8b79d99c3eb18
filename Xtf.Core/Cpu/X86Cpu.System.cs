namespace Xtf.Core.Cpu;

/// <summary>Control registers, MSRs and the time-stamp counter (SDM vol. 3, 2.5 and chapter 2.2.1).</summary>
public sealed partial class X86Cpu
{
    /// <summary>IA32_TIME_STAMP_COUNTER (MSR 10H).</summary>
    public const uint MsrTsc = 0x10;
    /// <summary>IA32_SYSENTER_CS (174H), IA32_SYSENTER_ESP (175H) and IA32_SYSENTER_EIP (176H): SYSENTER's target (SDM vol. 2, SYSENTER).</summary>
    public const uint MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176;
    /// <summary>IA32_EFER (C0000080H), see <see cref="Efer"/>.</summary>
    public const uint MsrEfer = 0xC0000080;
    /// <summary>IA32_STAR (C0000081H: SYSCALL/SYSRET CS/SS bases in bits 47:32 and 63:48), IA32_LSTAR (64-bit SYSCALL target), IA32_CSTAR (compatibility-mode SYSCALL target, unused on Intel) and IA32_FMASK (RFLAGS bits SYSCALL clears).</summary>
    public const uint MsrStar = 0xC0000081, MsrLstar = 0xC0000082, MsrCstar = 0xC0000083, MsrFmask = 0xC0000084;
    /// <summary>IA32_FS_BASE (C0000100H), IA32_GS_BASE (C0000101H) and IA32_KERNEL_GS_BASE (C0000102H, swapped with GS base by SWAPGS).</summary>
    public const uint MsrFsBase = 0xC0000100, MsrGsBase = 0xC0000101, MsrKernelGsBase = 0xC0000102;

    private const ulong Cr4WithoutUmip = Cr4.VME | Cr4.PVI | Cr4.TSD | Cr4.DE | Cr4.PSE | Cr4.PAE | Cr4.MCE | Cr4.PGE
        | Cr4.PCE | Cr4.OSFXSR | Cr4.OSXMMEXCPT | Cr4.FSGSBASE | Cr4.SMEP | Cr4.SMAP;

    private static readonly ulong Cr4Supported = Cr4ValidBits(CpuidLeaves.Leaf7Ecx);

    /// <summary>
    /// The CR4 bits MOV to CR4 accepts for a processor reporting <paramref name="leaf7Ecx"/> in
    /// CPUID.(EAX=7,ECX=0):ECX. CR4.UMIP (bit 11) exists only where CPUID enumerates UMIP (ECX bit 2);
    /// elsewhere it is reserved, and a 1 in a reserved CR4 bit makes MOV to CR4 #GP(0) (SDM vol. 3, 2.5;
    /// vol. 2, MOV: Move to/from Control Registers).
    /// </summary>
    internal static ulong Cr4ValidBits(uint leaf7Ecx) =>
        Cr4WithoutUmip | ((leaf7Ecx & (1u << 2)) != 0 ? Cr4.UMIP : 0);

    private readonly Dictionary<uint, ulong> msrs = [];

    /// <summary>The PDPTE registers of PAE paging (SDM vol. 3, 4.4.1), loaded by MOV CR3 / CR0 / CR4.</summary>
    internal readonly ulong[] Pdpte = new ulong[4];
    private long tscOffset;

    /// <summary>Deterministic TSC: advances with retired instructions.</summary>
    public ulong TimeStampCounter => (ulong)(Retired + tscOffset);

    private long shadowEndsAt = -1;

    /// <summary>
    /// True at the instruction boundary right after MOV SS, POP SS or an STI that set IF: the
    /// interrupt shadow that holds off interrupts and debug traps for one instruction (SDM vol. 3, 6.8.3).
    /// </summary>
    public bool InterruptShadow => Retired == shadowEndsAt;

    /// <summary>Called while the shadowing instruction executes (before it retires).</summary>
    internal void InhibitInterrupts() => shadowEndsAt = Retired + 1;

    /// <summary>MOV from CRn for <paramref name="n"/> 0, 2, 3 or 4; any other number raises #UD as the instruction does (SDM vol. 2, MOV CR). Privilege is the caller's check.</summary>
    public ulong ReadControlRegister(int n) => n switch
    {
        0 => Cr0Value,
        2 => Cr2,
        3 => Cr3,
        4 => Cr4Value,
        8 when Bitness == 64 => Cr8,
        _ => throw CpuFault.UD(),
    };

    /// <summary>
    /// CR8, the task-priority register of 64-bit mode (SDM vol. 3, 2.5: bits 3:0 are TPR[7:4] of
    /// the local APIC, bits 63:4 reserved; 11.8.6.5: MOV CR8 reads and writes it). Until the local
    /// APIC exists it is kept here; it only exists in 64-bit mode (MOV CR8 elsewhere is #UD).
    /// </summary>
    public ulong Cr8 { get; set; }

    /// <summary>
    /// MOV to CRn with the checks of SDM vol. 3, 2.5 and MOV CR: reserved bits, PG without PE, NW
    /// without CD; the IA-32e activation rules of 9.8.5 (PG with LME sets LMA and needs PAE; PAE
    /// cannot be cleared and PG not cleared in 64-bit mode while LMA); the PDPTE loads of PAE
    /// paging (4.4.1); and the TLB flushes of 4.10.4.1.
    /// </summary>
    public void WriteControlRegister(int n, ulong value)
    {
        InvalidateFetchWindow();
        switch (n)
        {
            case 0:
                WriteCr0(value);
                break;
            case 2:
                Cr2 = value;
                break;
            case 3:
                {
                    ulong cr3 = Bitness == 64 ? value : value & 0xFFFFFFFF;
                    if (Bitness == 64 && (cr3 >> CpuidLeaves.PhysicalAddressBits) != 0)
                        throw CpuFault.GP(0);
                    if (PaePagingActive(Cr0Value, Cr4Value))
                        LoadPdptes(cr3);
                    Cr3 = cr3;
                    tlb.FlushNonGlobal();
                    break;
                }

            case 4:
                {
                    if ((value & ~Cr4Supported) != 0 || ((EferValue & Efer.LMA) != 0 && (value & Cr4.PAE) == 0))
                        throw CpuFault.GP(0);
                    const ulong pagingBits = Cr4.PGE | Cr4.PAE | Cr4.PSE | Cr4.SMEP | Cr4.SMAP;
                    if (((value ^ Cr4Value) & (Cr4.PGE | Cr4.PAE | Cr4.PSE | Cr4.SMEP)) != 0 && PaePagingActive(Cr0Value, value))
                        LoadPdptes(Cr3);
                    if (((value ^ Cr4Value) & pagingBits) != 0)
                        tlb.FlushAll();
                    Cr4Value = value;
                    break;
                }

            case 8 when Bitness == 64:
                // SDM vol. 3, 2.5: "Writing a nonzero value into bits 63:4 of CR8 causes #GP(0)."
                if ((value >> 4) != 0)
                    throw CpuFault.GP(0);
                Cr8 = value;
                break;

            default:
                throw CpuFault.UD();
        }
    }

    /// <summary>MOV to CR0 (SDM vol. 3, 2.5, MOV CR and 9.8.5).</summary>
    private void WriteCr0(ulong value)
    {
        if ((value >> 32) != 0 || ((value & Cr0.PG) != 0 && (value & Cr0.PE) == 0)
            || ((value & Cr0.NW) != 0 && (value & Cr0.CD) == 0))
            throw CpuFault.GP(0);
        bool enablingPaging = (value & Cr0.PG) != 0 && (Cr0Value & Cr0.PG) == 0;
        bool disablingPaging = (value & Cr0.PG) == 0 && (Cr0Value & Cr0.PG) != 0;

        // 9.8.5: paging with EFER.LME activates IA-32e mode, which needs CR4.PAE; paging cannot be
        // turned off from 64-bit code (only from compatibility mode).
        if (enablingPaging && (EferValue & Efer.LME) != 0 && (Cr4Value & Cr4.PAE) == 0)
            throw CpuFault.GP(0);
        if (disablingPaging && Bitness == 64)
            throw CpuFault.GP(0);
        if ((EferValue & Efer.LME) == 0 && PaePagingActive(value, Cr4Value)
            && (enablingPaging || ((value ^ Cr0Value) & (Cr0.CD | Cr0.NW)) != 0))
            LoadPdptes(Cr3);

        if (((value ^ Cr0Value) & (Cr0.PG | Cr0.WP)) != 0)
            tlb.FlushAll();
        Cr0Value = value | Cr0.ET;
        if (enablingPaging && (EferValue & Efer.LME) != 0)
            EferValue |= Efer.LMA;
        else if (disablingPaging)
            EferValue &= ~Efer.LMA;
        UpdateMode();
    }

    /// <summary>PAE paging (not 4-level): CR0.PG and CR4.PAE with IA-32e mode not active.</summary>
    private bool PaePagingActive(ulong cr0, ulong cr4) =>
        (cr0 & Cr0.PG) != 0 && (cr4 & Cr4.PAE) != 0 && (EferValue & Efer.LME) == 0;

    /// <summary>
    /// Loads the four PDPTE registers from the 32-byte table CR3 points to (SDM vol. 3, 4.4.1): a
    /// present PDPTE with a reserved bit set (2:1, 8:5, 63:MAXPHYADDR) makes the MOV #GP(0), and
    /// nothing is loaded.
    /// </summary>
    private void LoadPdptes(ulong cr3)
    {
        const ulong low = 0x1E6; // bits 8:5 and 2:1
        ulong high = ~((1ul << CpuidLeaves.PhysicalAddressBits) - 1);
        Span<ulong> pdpte = stackalloc ulong[4];
        for (int i = 0; i < 4; i++)
        {
            pdpte[i] = ReadPhysical(((cr3 & 0xFFFFFFE0) + (ulong)(8 * i)) & 0xFFFFFFFF, 8);
            if ((pdpte[i] & 1) != 0 && (pdpte[i] & (low | high)) != 0)
                throw CpuFault.GP(0);
        }

        pdpte.CopyTo(Pdpte);
        tlb.FlushAll();
    }

    /// <summary>Whether this processor has MSR <paramref name="index"/> of its own (what RDMSR reads without a hypervisor; Xen's rdmsr_safe succeeds on it).</summary>
    public static bool ImplementsMsr(uint index) => index is DebugCtl.Msr or MsrPlatformInfo or MsrMiscFeaturesEnables or MsrTsc
        or MsrEfer or MsrFsBase or MsrGsBase or MsrSysenterCs or MsrSysenterEsp or MsrSysenterEip or MsrStar or MsrLstar
        or MsrCstar or MsrFmask or MsrKernelGsBase;

    /// <summary>RDMSR: intercepted MSRs (<see cref="ICpuIntercepts.InterceptsMsr"/>) go to the intercepts; then the CPU's own MSRs, then the intercepts; anything else is #GP(0).</summary>
    public ulong ReadMsr(uint index)
    {
        if (AccessAgent is { } agent)
            return agent.TryReadMsr(index, out ulong emulated) ? emulated : throw CpuFault.GP(0);
        return ReadProcessorMsr(index);
    }

    /// <summary>RDMSR as the processor itself makes it, whoever carries out the instruction's accesses (see <see cref="ReadMsr"/>).</summary>
    public ulong ReadProcessorMsr(uint index)
    {
        if (Intercepts.InterceptsMsr(index))
            return Intercepts.TryReadMsr(this, index, out ulong claimed) ? claimed : throw CpuFault.GP(0);
        switch (index)
        {
            case DebugCtl.Msr:
                return DebugCtlValue;
            case MsrPlatformInfo:
                return PlatformInfoValue;
            case MsrMiscFeaturesEnables:
                return MiscFeaturesEnables;
            case MsrTsc:
                return TimeStampCounter;
            case MsrEfer:
                return EferValue;
            case MsrFsBase:
                return Segments[FS].Base;
            case MsrGsBase:
                return Segments[GS].Base;
            case MsrSysenterCs or MsrSysenterEsp or MsrSysenterEip or MsrStar or MsrLstar or MsrCstar
                or MsrFmask or MsrKernelGsBase:
                return msrs.GetValueOrDefault(index);
        }

        if (Intercepts.TryReadMsr(this, index, out ulong value))
            return value;
        throw CpuFault.GP(0);
    }

    /// <summary>WRMSR: intercepted MSRs go to the intercepts; IA32_DEBUGCTL accepts <see cref="DebugCtl.Implemented"/>; EFER accepts SCE, LME and NXE (LMA is read-only; LME may not change while paging).</summary>
    public void WriteMsr(uint index, ulong value)
    {
        if (AccessAgent is { } agent)
        {
            if (!agent.TryWriteMsr(index, value))
                throw CpuFault.GP(0);
            return;
        }

        WriteProcessorMsr(index, value);
    }

    /// <summary>WRMSR as the processor itself makes it (see <see cref="WriteMsr"/>).</summary>
    public void WriteProcessorMsr(uint index, ulong value)
    {
        if (Intercepts.InterceptsMsr(index))
        {
            if (!Intercepts.TryWriteMsr(this, index, value))
                throw CpuFault.GP(0);
            return;
        }

        switch (index)
        {
            case DebugCtl.Msr:
                // Bits this CPU does not implement are #GP(0) (SDM vol. 4: IA32_DEBUGCTL reserved bits).
                if ((value & ~DebugCtl.Implemented) != 0)
                    throw CpuFault.GP(0);
                DebugCtlValue = value;
                return;
            case MsrPlatformInfo:
                throw CpuFault.GP(0);
            case MsrMiscFeaturesEnables:
                WriteMiscFeaturesEnables(value);
                return;
            case MsrTsc:
                tscOffset = (long)value - Retired;
                return;
            case MsrEfer:
                if ((value & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) != 0)
                    throw CpuFault.GP(0);
                if ((Cr0Value & Cr0.PG) != 0 && ((value ^ EferValue) & Efer.LME) != 0)
                    throw CpuFault.GP(0);
                if (((value ^ EferValue) & Efer.NXE) != 0)
                    tlb.FlushAll();
                EferValue = (value & ~Efer.LMA) | (EferValue & Efer.LMA);
                InvalidateFetchWindow();
                return;
            case MsrFsBase or MsrGsBase or MsrKernelGsBase or MsrLstar or MsrCstar:
                if (!IsCanonical(value))
                    throw CpuFault.GP(0);
                if (index == MsrFsBase)
                    Segments[FS].Base = value;
                else if (index == MsrGsBase)
                    Segments[GS].Base = value;
                else
                    msrs[index] = value;
                return;
            case MsrSysenterEsp or MsrSysenterEip:
                // Intel 64: these hold linear addresses, so a non-canonical value is #GP(0) (SDM: WRMSR).
                if (!IsCanonical(value))
                    throw CpuFault.GP(0);
                msrs[index] = value;
                return;
            case MsrSysenterCs or MsrStar or MsrFmask:
                msrs[index] = value;
                return;
        }

        if (!Intercepts.TryWriteMsr(this, index, value))
            throw CpuFault.GP(0);
    }
}
