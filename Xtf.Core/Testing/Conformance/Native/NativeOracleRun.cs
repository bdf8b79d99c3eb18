namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// The outcome of one family's snippets: passed (every compared bit equal), masked (equal except
/// where the architecture leaves a flag or register undefined), failed (the list, in seed order).
/// </summary>
public sealed class NativeOracleRun(string family)
{
    /// <summary>The family's name.</summary>
    public string Family { get; } = family;

    /// <summary>Snippets whose compared bits all agree.</summary>
    public int Passed { get; set; }

    /// <summary>Snippets that agree except in bits the architecture leaves undefined.</summary>
    public int Masked => MaskCounts.Values.Sum();

    /// <summary>Masked snippets by mask name (<see cref="NativeOracle.UndefinedFlags"/>, <see cref="NativeOracle.UndefinedRegister"/>).</summary>
    public Dictionary<string, int> MaskCounts { get; } = new(StringComparer.Ordinal);

    /// <summary>The disagreements.</summary>
    public List<OracleDisagreement> Failures { get; } = [];

    /// <summary>Number of disagreements.</summary>
    public int Failed => Failures.Count;
}
