namespace Xtf.Core.Machine;

/// <summary>Configuration of one emulated machine.</summary>
public sealed record MachineOptions
{
    /// <summary>Guest RAM in bytes (default 128 MiB, allocated sparsely).</summary>
    public ulong MemoryBytes { get; init; } = 128ul << 20;

    /// <summary>Instructions the instance may retire before it is stopped (ends as CRASH).</summary>
    public long InstructionBudget { get; init; } = 50_000_000;
}
