namespace Xtf.Core.Testing.Conformance;

/// <summary>One byte of a MOO <c>RAM </c> chunk: a 24-bit physical address and its value.</summary>
public readonly record struct MooRamByte(uint Address, byte Value);

/// <summary>An <c>INIT</c> or <c>FINA</c> chunk: registers and RAM (the prefetch queue is not exercised).</summary>
public sealed class MooState
{
    public MooState(MooRegisters registers, IReadOnlyList<MooRamByte> ram)
    {
        Registers = registers;
        Ram = ram;
    }

    public MooRegisters Registers { get; }

    public IReadOnlyList<MooRamByte> Ram { get; }
}
