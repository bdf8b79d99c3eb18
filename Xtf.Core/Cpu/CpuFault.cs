namespace Xtf.Core.Cpu;

/// <summary>
/// Host-side signal that the instruction being executed raised an architectural exception.
/// It unwinds the instruction's semantics (faults are precise: nothing was committed) and is
/// turned into delivery through the IDT by the execution loop. It never leaves the CPU.
/// </summary>
public sealed class CpuFault : Exception
{
    /// <summary>An exception with vector <paramref name="vector"/>; pass <paramref name="errorCode"/> exactly for the vectors that push one (<see cref="X86VectorInfo.HasErrorCode"/>).</summary>
    public CpuFault(X86Vector vector, uint? errorCode = null)
        : base($"#{vector}")
    {
        Vector = vector;
        ErrorCode = errorCode;
    }

    /// <summary>The exception vector to deliver.</summary>
    public X86Vector Vector { get; }

    /// <summary>The error code pushed on delivery (SDM vol. 3, 6.13), or null for vectors without one.</summary>
    public uint? ErrorCode { get; }

    /// <summary>CR2 value for #PF.</summary>
    public ulong FaultAddress { get; init; }

    /// <summary>#GP with the given error code; #GP(0) by default.</summary>
    public static CpuFault GP(uint errorCode = 0) => new(X86Vector.GP, errorCode);

    /// <summary>#UD (no error code).</summary>
    public static CpuFault UD() => new(X86Vector.UD);

    /// <summary>Selector error code (SDM vol. 3, 6.13): the selector's index and TI bit, with EXT (bit 0) and IDT (bit 1) clear.</summary>
    public static uint SelectorError(ushort selector) => (uint)(selector & 0xFFFC);

    /// <summary>IDT error code (SDM 6.13): vector * 8 with the IDT bit (bit 1) set.</summary>
    public static uint IdtError(int vector, bool external) => (uint)((vector << 3) | 2 | (external ? 1 : 0));
}
