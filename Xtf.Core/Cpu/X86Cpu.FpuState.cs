namespace Xtf.Core.Cpu;

/// <summary>
/// x87 FPU, MMX and SSE register state (SDM vol. 1, 8.1, 9.2 and 10.2) and the enabling rules of
/// CR0.EM/MP/TS and CR4.OSFXSR (SDM vol. 3, 2.5, 12.1 and 13.1, as cited below).
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>One x87 data register R0-R7: 64-bit significand (the MMX register) and sign+exponent.</summary>
    public struct X87Register
    {
        /// <summary>Significand bits 63:0 (bit 63 the explicit integer bit); MMi when used as an MMX register.</summary>
        public ulong Significand;

        /// <summary>Sign (bit 15) and 15-bit biased exponent (bits 14:0); MMX writes set it to all ones.</summary>
        public ushort SignExponent;
    }

    /// <summary>One 128-bit XMM register.</summary>
    public struct XmmRegister
    {
        /// <summary>Bits 63:0.</summary>
        public ulong Low;

        /// <summary>Bits 127:64.</summary>
        public ulong High;
    }

    /// <summary>x87 control word (FCW). SDM vol. 3, table 9-1: 0040H at power-up.</summary>
    public ushort FpuControlWord = 0x0040;

    /// <summary>x87 status word (FSW); TOP is bits 13:11, ES bit 7, B bit 15.</summary>
    public ushort FpuStatusWord;

    /// <summary>x87 tag word, two bits per physical register (00 valid, 01 zero, 10 special, 11 empty). 5555H at power-up.</summary>
    public ushort FpuTagWord = 0x5555;

    /// <summary>The last non-control x87 instruction's opcode (FOP, 11 bits), as FXSAVE stores it.</summary>
    public ushort FpuOpcode;

    /// <summary>FPU instruction pointer (FIP) and data (operand) pointer (FDP): offsets of the last non-control x87 instruction and its memory operand.</summary>
    public ulong FpuInstructionPointer, FpuDataPointer;

    /// <summary>FPU CS (FCS) and DS (FDS) selectors belonging to <see cref="FpuInstructionPointer"/> and <see cref="FpuDataPointer"/>.</summary>
    public ushort FpuInstructionSelector, FpuDataSelector;

    /// <summary>Physical x87 registers R0-R7; MMi is the significand of Ri (SDM vol. 1, 9.5).</summary>
    public readonly X87Register[] FpuRegisters = new X87Register[8];

    /// <summary>XMM0-XMM15 (XMM8-15 reachable in 64-bit mode only).</summary>
    public readonly XmmRegister[] Xmm = new XmmRegister[16];

    /// <summary>MXCSR; 1F80H at power-up and after reset (SDM vol. 3, table 9-1).</summary>
    public uint Mxcsr = 0x1F80;

    /// <summary>
    /// MXCSR bits this processor supports (the MXCSR_MASK FXSAVE stores, SDM vol. 1, 11.6.6): the
    /// flags, masks, RC and FZ of SSE, without DAZ (bit 6), which only later SSE processors have.
    /// </summary>
    public const uint MxcsrMask = 0xFFBF;

    /// <summary>TOP, the x87 stack top (FSW bits 13:11).</summary>
    internal int FpuTop => (FpuStatusWord >> 11) & 7;

    /// <summary>
    /// x87 floating-point instructions (SDM vol. 3, 2.5, table 2-2): CR0.EM set
    /// means no x87 unit, so they raise #NM for software emulation; CR0.TS set (a task switch since
    /// the FPU state was last saved) raises #NM too. MP plays no part here.
    /// </summary>
    internal void CheckX87Available()
    {
        if ((Cr0Value & (Cr0.EM | Cr0.TS)) != 0)
            throw new CpuFault(X86Vector.NM);
    }

    /// <summary>
    /// WAIT/FWAIT (SDM vol. 3, 2.5, table 2-2): #NM only when CR0.MP and CR0.TS are both set;
    /// EM plays no part (WAIT is not an x87 instruction that can be emulated).
    /// </summary>
    internal void CheckWaitAvailable()
    {
        if ((Cr0Value & (Cr0.MP | Cr0.TS)) == (Cr0.MP | Cr0.TS))
            throw new CpuFault(X86Vector.NM);
    }

    /// <summary>
    /// MMX instructions (SDM vol. 3, 12.1, table 12-1; vol. 2, exceptions of MOVQ): CR0.EM
    /// set is #UD (MMX cannot be emulated), then CR0.TS set is #NM, then a pending unmasked x87
    /// exception is #MF. CPUID.MMX is set, so no feature #UD.
    /// </summary>
    internal void CheckMmxAvailable()
    {
        if ((Cr0Value & Cr0.EM) != 0)
            throw CpuFault.UD();
        if ((Cr0Value & Cr0.TS) != 0)
            throw new CpuFault(X86Vector.NM);
        CheckPendingX87Exception();
    }

    /// <summary>
    /// Legacy SSE instructions (SDM vol. 3, 13.1, table 13-1; vol. 2, 2.4, exception types 4
    /// and 5): CR0.EM set is #UD, CR4.OSFXSR clear is #UD, then CR0.TS set is #NM. CPUID.SSE is set.
    /// </summary>
    internal void CheckSseAvailable()
    {
        if ((Cr0Value & Cr0.EM) != 0 || (Cr4Value & Cr4.OSFXSR) == 0)
            throw CpuFault.UD();
        if ((Cr0Value & Cr0.TS) != 0)
            throw new CpuFault(X86Vector.NM);
    }

    /// <summary>
    /// Waiting x87 instructions, WAIT and MMX instructions take a pending unmasked x87 exception
    /// (FSW.ES set) as #MF when CR0.NE is set (SDM vol. 1, 8.6 and 8.7). With NE clear the
    /// processor signals FERR# to an external interrupt controller, which this machine does not
    /// model: the instruction then proceeds.
    /// </summary>
    internal void CheckPendingX87Exception()
    {
        if ((FpuStatusWord & FswEs) != 0 && (Cr0Value & Cr0.NE) != 0)
            throw new CpuFault(X86Vector.MF);
    }

    /// <summary>FSW.ES (bit 7, error summary) and B (bit 15, a copy of ES).</summary>
    internal const ushort FswEs = 1 << 7, FswB = 1 << 15;

    /// <summary>
    /// Sets ES and B in the status word exactly when an exception flag (bits 5:0) is set whose mask
    /// in the control word is clear (SDM vol. 1, 8.1.3.1 and 8.1.5).
    /// </summary>
    internal void UpdateFpuErrorSummary()
    {
        bool pending = (FpuStatusWord & ~FpuControlWord & 0x3F) != 0;
        FpuStatusWord = pending ? (ushort)(FpuStatusWord | FswEs | FswB) : (ushort)(FpuStatusWord & ~(FswEs | FswB));
    }

    /// <summary>FNINIT/FINIT (SDM vol. 2, FINIT): FCW 037FH, FSW 0, FTW FFFFH (all empty), pointers and opcode 0.</summary>
    internal void InitializeFpu()
    {
        FpuControlWord = 0x037F;
        FpuStatusWord = 0;
        FpuTagWord = 0xFFFF;
        FpuOpcode = 0;
        FpuInstructionPointer = FpuDataPointer = 0;
        FpuInstructionSelector = FpuDataSelector = 0;
    }

    /// <summary>
    /// Every MMX instruction but EMMS sets TOP to 0 and all tags valid (SDM vol. 3, 12.2, table 12-2);
    /// a write to MMi sets bits 79:64 of Ri to all ones.
    /// </summary>
    internal void EnterMmxState()
    {
        FpuStatusWord = (ushort)(FpuStatusWord & ~(7 << 11));
        FpuTagWord = 0;
    }

    internal void WriteMmx(int n, ulong value)
    {
        FpuRegisters[n].Significand = value;
        FpuRegisters[n].SignExponent = 0xFFFF;
    }

    /// <summary>
    /// The two-bit tag a register's contents call for (SDM vol. 1, 8.1.7): zero for +/-0, special
    /// for NaN, infinity, denormal or unsupported formats, valid otherwise.
    /// </summary>
    internal static int ClassifyTag(in X87Register r)
    {
        int exponent = r.SignExponent & 0x7FFF;
        if (exponent == 0)
            return r.Significand == 0 ? 1 : 2;
        if (exponent == 0x7FFF || (r.Significand >> 63) == 0)
            return 2;
        return 0;
    }

    /// <summary>Power-on x87/SSE state (SDM vol. 3, table 9-1).</summary>
    private void ResetFpuState()
    {
        FpuControlWord = 0x0040;
        FpuStatusWord = 0;
        FpuTagWord = 0x5555;
        FpuOpcode = 0;
        FpuInstructionPointer = FpuDataPointer = 0;
        FpuInstructionSelector = FpuDataSelector = 0;
        Array.Clear(FpuRegisters);
        Array.Clear(Xmm);
        Mxcsr = 0x1F80;
    }
}
