namespace Xtf.Core.Testing.Conformance;

/// <summary>The 286 register file as a MOO <c>REGS</c> chunk orders it (bit n of the mask = register n).</summary>
public enum MooRegister
{
    /// <summary>Bit 0.</summary>
    AX,

    /// <summary>Bit 1.</summary>
    BX,

    /// <summary>Bit 2.</summary>
    CX,

    /// <summary>Bit 3.</summary>
    DX,

    /// <summary>Bit 4: a real-mode selector (base = value * 16).</summary>
    CS,

    /// <summary>Bit 5: a real-mode selector.</summary>
    SS,

    /// <summary>Bit 6: a real-mode selector.</summary>
    DS,

    /// <summary>Bit 7: a real-mode selector.</summary>
    ES,

    /// <summary>Bit 8.</summary>
    SP,

    /// <summary>Bit 9.</summary>
    BP,

    /// <summary>Bit 10.</summary>
    SI,

    /// <summary>Bit 11.</summary>
    DI,

    /// <summary>Bit 12: IP as the capture saw it; in a final state, one past the terminating HLT.</summary>
    IP,

    /// <summary>Bit 13: the 16-bit FLAGS image.</summary>
    Flags,
}

/// <summary>
/// A <c>REGS</c> chunk: the registers it lists and their values. An initial state lists every
/// register; a final state lists only those that changed.
/// </summary>
public sealed class MooRegisters
{
    /// <summary>Registers in a 16-bit <c>REGS</c> chunk: bits 0-13 of its mask; higher bits are a format error.</summary>
    public const int Count = 14;

    private readonly ushort[] values = new ushort[Count];

    /// <summary>Bit n set: register n is present.</summary>
    public ushort Mask { get; private set; }

    /// <summary>Whether this state lists <paramref name="r"/> (its <see cref="Mask"/> bit is set).</summary>
    public bool Has(MooRegister r) => (Mask & (1 << (int)r)) != 0;

    /// <summary>The 16-bit value of <paramref name="r"/>; reading an unlisted register throws <see cref="KeyNotFoundException"/>, setting one lists it.</summary>
    public ushort this[MooRegister r]
    {
        get => Has(r) ? values[(int)r] : throw new KeyNotFoundException($"register {r} is not in this state");
        set
        {
            values[(int)r] = value;
            Mask |= (ushort)(1 << (int)r);
        }
    }

    /// <summary>The value of <paramref name="r"/> here, or <paramref name="fallback"/>'s if this state does not list it.</summary>
    public ushort GetOr(MooRegister r, MooRegisters fallback) => Has(r) ? values[(int)r] : fallback[r];

    /// <summary>The register's lower-case name as the MOO specification and upstream JSON tests spell it (<c>ax</c> ... <c>flags</c>).</summary>
    public static string Name(MooRegister r) => r == MooRegister.Flags ? "flags" : r.ToString().ToLowerInvariant();
}
