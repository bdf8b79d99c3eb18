using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>Iced's <see cref="RflagsBits"/> (its own bit order) as architectural RFLAGS bits (SDM vol. 1, 3.4.3).</summary>
internal static class IcedFlags
{
    /// <summary>The compared flags: Iced's bit, the architectural bit, the name.</summary>
    private static readonly (RflagsBits Iced, uint Bit, string Name)[] Flags =
    [
        (RflagsBits.CF, RFlags.CF, "CF"), (RflagsBits.PF, RFlags.PF, "PF"), (RflagsBits.AF, RFlags.AF, "AF"),
        (RflagsBits.ZF, RFlags.ZF, "ZF"), (RflagsBits.SF, RFlags.SF, "SF"), (RflagsBits.OF, RFlags.OF, "OF"),
        (RflagsBits.DF, RFlags.DF, "DF"),
    ];

    public static uint ToArchitectural(RflagsBits bits)
    {
        uint v = 0;
        foreach (var f in Flags)
        {
            if ((bits & f.Iced) != 0)
                v |= f.Bit;
        }

        return v;
    }

    /// <summary>Names of the set bits of <paramref name="flags"/> among CF PF AF ZF SF OF DF, e.g. "CF|OF".</summary>
    public static string Names(uint flags)
    {
        var names = Flags.Where(f => (flags & f.Bit) != 0).Select(f => f.Name).ToList();
        return names.Count == 0 ? "none" : string.Join('|', names);
    }
}
