namespace Xtf.Core.Testing.Conformance;

/// <summary>One byte of a MOO <c>RAM </c> chunk: a 24-bit physical address and its value.</summary>
/// <param name="Address">The physical address (a u32 in the file, below 2^24).</param>
/// <param name="Value">The byte at that address.</param>
public readonly record struct MooRamByte(uint Address, byte Value);

/// <summary>An <c>INIT</c> or <c>FINA</c> chunk: registers and RAM (the prefetch queue is not exercised).</summary>
public sealed class MooState
{
    /// <summary>A state of <paramref name="registers"/> and the <paramref name="ram"/> bytes in chunk order.</summary>
    public MooState(MooRegisters registers, IReadOnlyList<MooRamByte> ram)
    {
        Registers = registers;
        Ram = ram;
    }

    /// <summary>The <c>REGS</c> subchunk: all 14 registers in an initial state, only the changed ones in a final state (none if absent).</summary>
    public MooRegisters Registers { get; }

    /// <summary>The <c>RAM </c> subchunk in chunk order: bytes the test touches (instruction bytes included) with their values before (INIT) or after (FINA) the instruction. Empty if the chunk is absent.</summary>
    public IReadOnlyList<MooRamByte> Ram { get; }
}
