using Iced.Intel;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// One generated snippet: the family and seed it came from (<c>--seed Seed --count 1 --family Family</c>
/// rebuilds it), its instructions and bytes, the state it starts from, the RFLAGS bits left
/// undefined at its end (Iced's <see cref="Instruction.RflagsUndefined"/>, not written again
/// later), and registers whose value the architecture leaves undefined for this start state.
/// </summary>
public sealed record OracleSnippet(
    string Family,
    int Seed,
    IReadOnlyList<Instruction> Instructions,
    byte[] Bytes,
    OracleState Initial,
    uint UndefinedFlags,
    IReadOnlyList<(int Register, string Reason)> UndefinedRegisters)
{
    /// <summary>The instructions as Iced formats them, separated by "; ".</summary>
    public string Disassembly => string.Join("; ", Instructions.Select(i => i.ToString()));

    /// <summary>The bytes in hex, space-separated.</summary>
    public string Hex => string.Join(' ', Bytes.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
}
