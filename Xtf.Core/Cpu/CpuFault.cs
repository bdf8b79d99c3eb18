namespace Xtf.Core.Cpu;

/// <summary>
/// Host-side signal that the instruction being executed raised an architectural exception.
/// It unwinds the instruction's semantics (faults are precise: nothing was committed) and is
/// turned into delivery through the IDT by the execution loop. It never leaves the CPU.
/// </summary>
public sealed class CpuFault : Exception
{
    public CpuFault(X86Vector vector, uint? errorCode = null)
        : base($"#{vector}")
    {
        Vector = vector;
        ErrorCode = errorCode;
    }

    public X86Vector Vector { get; }

    public uint? ErrorCode { get; }

    /// <summary>CR2 value for #PF.</summary>
    public ulong FaultAddress { get; init; }

    public static CpuFault GP(uint errorCode = 0) => new(X86Vector.GP, errorCode);

    public static CpuFault UD() => new(X86Vector.UD);

    /// <summary>Selector error code (SDM 6.13): selector index and TI, EXT in bit 0.</summary>
    public static uint SelectorError(ushort selector) => (uint)(selector & 0xFFFC);

    /// <summary>IDT error code (SDM 6.13): vector * 8 with the IDT bit (bit 1) set.</summary>
    public static uint IdtError(int vector, bool external) => (uint)((vector << 3) | 2 | (external ? 1 : 0));
}
