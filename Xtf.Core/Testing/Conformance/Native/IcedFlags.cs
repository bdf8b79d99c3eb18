using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>Iced's <see cref="RflagsBits"/> (its own bit order) as architectural RFLAGS bits (SDM vol. 1, 3.4.3).</summary>
internal static class IcedFlags
{
    public static uint ToArchitectural(RflagsBits bits)
    {
        uint v = 0;
        if ((bits & RflagsBits.CF) != 0)
            v |= RFlags.CF;
        if ((bits & RflagsBits.PF) != 0)
            v |= RFlags.PF;
        if ((bits & RflagsBits.AF) != 0)
            v |= RFlags.AF;
        if ((bits & RflagsBits.ZF) != 0)
            v |= RFlags.ZF;
        if ((bits & RflagsBits.SF) != 0)
            v |= RFlags.SF;
        if ((bits & RflagsBits.OF) != 0)
            v |= RFlags.OF;
        if ((bits & RflagsBits.DF) != 0)
            v |= RFlags.DF;
        return v;
    }

    /// <summary>Names of the set bits of <paramref name="flags"/> among CF PF AF ZF SF OF DF, e.g. "CF|OF".</summary>
    public static string Names(uint flags)
    {
        var names = new List<string>();
        foreach (var (bit, name) in (ReadOnlySpan<(uint, string)>)[(RFlags.CF, "CF"), (RFlags.PF, "PF"), (RFlags.AF, "AF"), (RFlags.ZF, "ZF"), (RFlags.SF, "SF"), (RFlags.OF, "OF"), (RFlags.DF, "DF")])
        {
            if ((flags & bit) != 0)
                names.Add(name);
        }

        return names.Count == 0 ? "none" : string.Join('|', names);
    }
}
