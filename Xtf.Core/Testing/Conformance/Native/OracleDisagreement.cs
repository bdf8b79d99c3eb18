namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>A snippet on which our CPU and the host disagree, with both end states (ours null when it faulted).</summary>
public sealed record OracleDisagreement(OracleSnippet Snippet, int Cpl, OracleState Native, OracleState? Ours, string? OurFault, IReadOnlyList<string> Differences)
{
    /// <summary>The command line that runs this snippet alone.</summary>
    public string Reproducer => $"xtf-runner conformance --native --family {Snippet.Family} --seed {Snippet.Seed} --count 1";

    /// <summary>Several lines: snippet, start state, both results, differences, reproducer.</summary>
    public IEnumerable<string> Describe()
    {
        yield return $"FAILED {Snippet.Family} seed {Snippet.Seed} cpl {Cpl}: {Snippet.Disassembly}";
        yield return $"  bytes:    {Snippet.Hex}";
        yield return $"  initial:  {Snippet.Initial.Describe()}";
        yield return $"  native:   {Native.Describe()}";
        yield return $"  ours:     {(Ours is null ? OurFault : Ours.Describe())}";
        yield return $"  differs:  {string.Join(", ", Differences)}";
        if (Snippet.UndefinedFlags != 0)
            yield return $"  (not compared: {IcedFlags.Names(Snippet.UndefinedFlags)}, undefined per Iced's RflagsUndefined)";
        yield return $"  reproduce: {Reproducer}";
    }
}
