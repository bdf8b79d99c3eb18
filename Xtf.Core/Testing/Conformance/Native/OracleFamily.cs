using Iced.Intel;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// One family of native-oracle snippets: its name and the mnemonics it draws from. Its forms are
/// every legacy-encoded Iced <see cref="Code"/> of those mnemonics valid in 64-bit mode whose
/// operands are registers or immediates only (<see cref="OpCodeInfo"/>), so no form reaches memory.
/// </summary>
public sealed class OracleFamily
{
    /// <summary>A family of <paramref name="mnemonics"/>, snippets of 1 to <paramref name="maxLength"/> instructions.</summary>
    public OracleFamily(string name, string description, IReadOnlyList<Mnemonic> mnemonics, int maxLength = 4)
    {
        Name = name;
        Description = description;
        MaxLength = maxLength;
        var set = mnemonics.ToHashSet();
        Forms = [.. Enum.GetValues<Code>().Where(c => set.Contains(c.Mnemonic()) && IsRegisterForm(c.ToOpCode()))];
    }

    /// <summary>The name <c>--family</c> takes.</summary>
    public string Name { get; }

    /// <summary>What the family covers.</summary>
    public string Description { get; }

    /// <summary>Most instructions in one snippet.</summary>
    public int MaxLength { get; }

    /// <summary>The encodings snippets are built from.</summary>
    public IReadOnlyList<Code> Forms { get; }

    private static bool IsRegisterForm(OpCodeInfo op)
    {
        if (!op.IsInstruction || op.Encoding != EncodingKind.Legacy || !op.Mode64)
            return false;
        for (int i = 0; i < op.OpCount; i++)
        {
            if (!SnippetOperands.IsSupported(op.GetOpKind(i)))
                return false;
        }

        return true;
    }
}
