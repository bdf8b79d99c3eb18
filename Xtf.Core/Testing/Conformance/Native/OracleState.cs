using Xtf.Core.Cpu;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// The state a native-oracle snippet starts from and ends in: the 16 general-purpose registers
/// (index = register number, <see cref="X86Cpu.RAX"/> .. R15) and RFLAGS. RSP is the one register
/// a snippet never names; its entry says only whether the snippet left it where it was.
/// </summary>
public sealed class OracleState
{
    /// <summary>Number of general-purpose registers in 64-bit mode.</summary>
    public const int Count = 16;

    /// <summary>RAX..R15; <see cref="X86Cpu.RSP"/> holds 0 when RSP was left unchanged, 1 otherwise.</summary>
    public ulong[] Gpr { get; } = new ulong[Count];

    /// <summary>RFLAGS; only <see cref="RFlags.Status"/> (and DF, clear at the start) are compared.</summary>
    public ulong Rflags { get; set; }

    /// <summary>A copy.</summary>
    public OracleState Clone()
    {
        var copy = new OracleState { Rflags = Rflags };
        Gpr.CopyTo(copy.Gpr, 0);
        return copy;
    }

    /// <summary>Register name of index <paramref name="r"/> in 64-bit mode (SDM vol. 1, 3.4.1.1).</summary>
    public static string Name(int r) => r switch
    {
        0 => "rax",
        1 => "rcx",
        2 => "rdx",
        3 => "rbx",
        4 => "rsp",
        5 => "rbp",
        6 => "rsi",
        7 => "rdi",
        _ => $"r{r}",
    };

    /// <summary>One line per four registers and the flags, in hex.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        for (int r = 0; r < Count; r++)
        {
            if (r != X86Cpu.RSP)
                parts.Add($"{Name(r)}={Gpr[r]:x16}");
        }

        parts.Add($"rflags={Rflags & (RFlags.Status | RFlags.DF):x}");
        return string.Join(' ', parts);
    }
}
