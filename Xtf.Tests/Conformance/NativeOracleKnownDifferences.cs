using Iced.Intel;
using Xtf.Core.Testing.Conformance.Native;

namespace Xtf.Tests.Conformance;

/// <summary>
/// Disagreements with the host processor that are bugs of our CPU, found by the native oracle and
/// not yet fixed (Xtf.Core/Cpu is another change's to edit). Each entry names the instruction form,
/// the rule, and a seed that reproduces it; it explains a disagreement only when every differing
/// register is the destination of such an instruction, differs in bits 63:32 alone, and the flags
/// agree. Remove an entry when its reproducer passes (<see cref="NativeOracleTests"/> says so).
/// </summary>
internal sealed record NativeOracleKnownDifference(string Name, string Reason, string Family, int Seed, Func<Instruction, bool> Culprit)
{
    /// <summary>
    /// None now. The two the oracle found first were fixed in the CPU: a failed CMPXCHG wrote its
    /// 32-bit register destination back (clearing bits 63:32; move seed 273), and SHLD/SHRD of a
    /// 32-bit register by 0 kept bits 63:32 (shift seed 1019). SiliconDeviationTests keeps both.
    /// </summary>
    public static IReadOnlyList<NativeOracleKnownDifference> All { get; } = [];

    /// <summary>
    /// Whether <paramref name="d"/> is wholly this difference: the snippet is cut after each culprit
    /// instruction and each piece re-run from the host's state at its start; every piece must agree
    /// or differ only in bits 63:32 of the culprit's destination (flags equal), at least one must
    /// differ so, and the rest of the snippet after the last culprit must agree.
    /// </summary>
    public bool Explains(OracleDisagreement d, NativeOracle oracle, HostProcessor host)
    {
        if (d.Ours is null || d.Snippet.Family != Family)
            return false;
        var snippet = d.Snippet;
        var state = snippet.Initial;
        int from = 0;
        bool seen = false;
        for (int c = 0; c < snippet.Instructions.Count; c++)
        {
            if (!Culprit(snippet.Instructions[c]))
                continue;
            var piece = SnippetGenerator.Slice(snippet, from, c + 1, state);
            var (pd, _) = oracle.RunOne(piece);
            if (pd is not null)
            {
                if (!UpperHalfOnly(pd, snippet.Instructions[c].Op0Register.GetFullRegister() - Register.RAX))
                    return false;
                seen = true;
            }

            state = host.Run(piece.Bytes, piece.Initial);
            from = c + 1;
        }

        if (!seen)
            return false;
        return from == snippet.Instructions.Count
            || oracle.RunOne(SnippetGenerator.Slice(snippet, from, snippet.Instructions.Count, state)).Disagreement is null;
    }

    private static bool UpperHalfOnly(OracleDisagreement d, int destination)
    {
        const ulong compared = 0x8D5; // CF PF AF ZF SF OF
        if (d.Ours is null || ((d.Native.Rflags ^ d.Ours.Rflags) & compared & ~(ulong)d.Snippet.UndefinedFlags) != 0)
            return false;
        for (int r = 0; r < OracleState.Count; r++)
        {
            ulong native = d.Native.Gpr[r], ours = d.Ours.Gpr[r];
            if (native != ours && (r != destination || (uint)native != (uint)ours))
                return false;
        }

        return true;
    }
}
