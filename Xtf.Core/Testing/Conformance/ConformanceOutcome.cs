namespace Xtf.Core.Testing.Conformance;

/// <summary>What one conformance test came to.</summary>
public enum ConformanceVerdict
{
    /// <summary>Final registers and RAM match the hardware's.</summary>
    Passed,

    /// <summary>A difference no mask explains (or a host exception).</summary>
    Failed,

    /// <summary>Differences all explained by documented 286-versus-modern-CPU masks (one, or several applied together).</summary>
    Masked,

    /// <summary>Listed in the revocation list: known bad upstream, not run.</summary>
    Revoked,
}

/// <summary>One difference between the hardware's final state and ours.</summary>
public readonly record struct StateDifference(string Location, uint Expected, uint Actual, int Width)
{
    /// <summary>A register (<c>ax</c>, <c>flags</c>, ...) rather than a RAM byte.</summary>
    public bool IsRegister => !Location.StartsWith("ram[", StringComparison.Ordinal);

    /// <summary><c>location: expected X, got Y</c> in hex, two digits for a RAM byte, four for a register.</summary>
    public override string ToString() =>
        Width == 1
            ? $"{Location}: expected {Expected:x2}, got {Actual:x2}"
            : $"{Location}: expected {Expected:x4}, got {Actual:x4}";
}

/// <summary>The verdict on one test, with the differences behind it and the masks that explained them.</summary>
public sealed record ConformanceOutcome(
    MooTest Test,
    ConformanceVerdict Verdict,
    IReadOnlyList<StateDifference> Differences,
    IReadOnlyList<ConformanceMask> Masks,
    string? HostException = null)
{
    /// <summary>
    /// One line for a failure report: <c>#index name [instruction bytes in hex] (286: exception N): what</c>,
    /// where <c>what</c> is the host exception or the first six differences and the total count. The exception part
    /// appears only when the capture has an EXCP chunk.
    /// </summary>
    public string Describe()
    {
        string what = HostException is { } e
            ? $"host exception {e}"
            : string.Join("; ", Differences.Take(6)) + (Differences.Count > 6 ? $"; ... ({Differences.Count} in all)" : string.Empty);
        string exception = Test.Exception is { } x ? $" (286: exception {x.Vector})" : string.Empty;
        return $"#{Test.Index} {Test.Name} [{Convert.ToHexString(Test.Bytes)}]{exception}: {what}";
    }
}
