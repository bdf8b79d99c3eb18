namespace Xtf.Core.Cpu;

/// <summary>Control registers, MSRs and the time-stamp counter (SDM vol. 3, 2.5 and chapter 2.2.1).</summary>
public sealed partial class X86Cpu
{
    public const uint MsrTsc = 0x10;
    public const uint MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176;
    public const uint MsrEfer = 0xC0000080;
    public const uint MsrStar = 0xC0000081, MsrLstar = 0xC0000082, MsrCstar = 0xC0000083, MsrFmask = 0xC0000084;
    public const uint MsrFsBase = 0xC0000100, MsrGsBase = 0xC0000101, MsrKernelGsBase = 0xC0000102;

    private const ulong Cr4Supported = Cr4.VME | Cr4.PVI | Cr4.TSD | Cr4.DE | Cr4.PSE | Cr4.PAE | Cr4.MCE | Cr4.PGE
        | Cr4.PCE | Cr4.OSFXSR | Cr4.OSXMMEXCPT | Cr4.UMIP | Cr4.FSGSBASE | Cr4.SMEP | Cr4.SMAP;

    private readonly Dictionary<uint, ulong> msrs = [];
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

    public ulong ReadControlRegister(int n) => n switch
    {
        0 => Cr0Value,
        2 => Cr2,
        3 => Cr3,
        4 => Cr4Value,
        _ => throw CpuFault.UD(),
    };

    /// <summary>
    /// MOV to CRn with the checks of SDM vol. 3, 2.5 and MOV CR: reserved bits, PG without PE,
    /// NW without CD. Paging modes beyond 32-bit paging are refused with #GP(0) until the PAE and
    /// 4-level walkers exist (issue 4).
    /// </summary>
    public void WriteControlRegister(int n, ulong value)
    {
        InvalidateFetchWindow();
        switch (n)
        {
            case 0:
                if ((value >> 32) != 0 || ((value & Cr0.PG) != 0 && (value & Cr0.PE) == 0)
                    || ((value & Cr0.NW) != 0 && (value & Cr0.CD) == 0))
                    throw CpuFault.GP(0);
                if ((value & Cr0.PG) != 0 && ((Cr4Value & Cr4.PAE) != 0 || (EferValue & Efer.LME) != 0))
                    throw CpuFault.GP(0);
                Cr0Value = value | Cr0.ET;
                UpdateMode();
                break;
            case 2:
                Cr2 = value;
                break;
            case 3:
                Cr3 = Bitness == 64 ? value : value & 0xFFFFFFFF;
                break;
            case 4:
                if ((value & ~Cr4Supported) != 0 || ((value & Cr4.PAE) != 0 && (Cr0Value & Cr0.PG) != 0))
                    throw CpuFault.GP(0);
                Cr4Value = value;
                break;
            default:
                throw CpuFault.UD();
        }
    }

    /// <summary>RDMSR: the CPU's own MSRs, then the intercepts; anything else is #GP(0).</summary>
    public ulong ReadMsr(uint index)
    {
        switch (index)
        {
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

    /// <summary>WRMSR: EFER accepts SCE, LME and NXE (LMA is read-only; LME may not change while paging).</summary>
    public void WriteMsr(uint index, ulong value)
    {
        switch (index)
        {
            case MsrTsc:
                tscOffset = (long)value - Retired;
                return;
            case MsrEfer:
                if ((value & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) != 0)
                    throw CpuFault.GP(0);
                if ((Cr0Value & Cr0.PG) != 0 && ((value ^ EferValue) & Efer.LME) != 0)
                    throw CpuFault.GP(0);
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
            case MsrSysenterCs or MsrSysenterEsp or MsrSysenterEip or MsrStar or MsrFmask:
                msrs[index] = value;
                return;
        }

        if (!Intercepts.TryWriteMsr(this, index, value))
            throw CpuFault.GP(0);
    }
}
