namespace Xtf.Core.Testing.Conformance;

/// <summary>The 286 register file as a MOO <c>REGS</c> chunk orders it (bit n of the mask = register n).</summary>
public enum MooRegister
{
    AX,
    BX,
    CX,
    DX,
    CS,
    SS,
    DS,
    ES,
    SP,
    BP,
    SI,
    DI,
    IP,
    Flags,
}

/// <summary>
/// A <c>REGS</c> chunk: the registers it lists and their values. An initial state lists every
/// register; a final state lists only those that changed.
/// </summary>
public sealed class MooRegisters
{
    public const int Count = 14;

    private readonly ushort[] values = new ushort[Count];

    /// <summary>Bit n set: register n is present.</summary>
    public ushort Mask { get; private set; }

    public bool Has(MooRegister r) => (Mask & (1 << (int)r)) != 0;

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

    public static string Name(MooRegister r) => r == MooRegister.Flags ? "flags" : r.ToString().ToLowerInvariant();
}
