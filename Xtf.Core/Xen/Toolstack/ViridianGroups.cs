using Xtf.Core.Xen.Viridian;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>
/// The cfg key <c>viridian</c> as xl and libxl turn it into HVM_PARAM_VIRIDIAN. xl
/// (tools/xl/xl_parse.c, parse_config_data) reads a list of enlightenment groups, each name
/// setting its bit in an enable bitmap and clearing it from a disable bitmap, <c>!name</c> the
/// reverse, <c>all</c> setting every bit of the enable bitmap and <c>defaults</c> turning the
/// <c>viridian</c> boolean on; an unknown name makes xl exit. A single value is that boolean
/// (xlu_cfg_get_defbool: strtol, base 0, non-zero is true; a value that is not a number leaves it
/// unset, without a word since xl passes dont_warn). libxl (tools/libs/light/libxl_x86.c,
/// hvm_set_viridian_features) then starts from the default groups when the boolean is true,
/// applies the two bitmaps, insists on the base group, and maps groups to HVMPV_* bits.
/// </summary>
public static class ViridianGroups
{
    /// <summary>libxl_types.idl libxl_viridian_enlightenment, by value: "base" 0 .. "cpu_hotplug" 12.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush", "apic_assist",
        "crash_ctl", "synic", "stimer", "hcall_ipi", "ex_processor_masks", "no_vp_limit", "cpu_hotplug",
    ];

    private const int Base = 0, Freq = 1, TimeRefCount = 2, ReferenceTsc = 3, HcallRemoteTlbFlush = 4, ApicAssist = 5,
        CrashCtl = 6, Synic = 7, Stimer = 8, HcallIpi = 9, ExProcessorMasks = 10, NoVpLimit = 11, CpuHotplug = 12;

    /// <summary>
    /// The HVMPV mask for <paramref name="cfg"/>'s <c>viridian</c> setting (none when unset: libxl_create.c
    /// defaults the boolean to false). A cfg xl or libxl refuses is a <see cref="DomainBuildException"/>.
    /// </summary>
    public static ViridianFeatures FromConfig(DomainConfig cfg)
    {
        bool defaults = false;
        // LIBXL_BUILDINFO_HVM_VIRIDIAN_ENABLE_DISABLE_WIDTH is 64 bits.
        ulong enable = 0, disable = 0;
        if (cfg.IsList("viridian"))
        {
            foreach (string item in cfg.List("viridian")!)
            {
                if (item == "all")
                {
                    enable = ulong.MaxValue;     // libxl_bitmap_set_any
                    continue;
                }

                if (item == "defaults")
                {
                    defaults = true;
                    continue;
                }

                bool negate = item.StartsWith('!');
                string name = negate ? item[1..] : item;
                int v = IndexOf(name);
                if (v < 0)
                    throw new DomainBuildException($"xl: unknown viridian enlightenment '{name}'");
                ulong bit = 1ul << v;
                if (negate)
                {
                    disable |= bit;
                    enable &= ~bit;
                }
                else
                {
                    enable |= bit;
                    disable &= ~bit;
                }
            }
        }
        else if (cfg.Has("viridian") && StrtolBase0(cfg.String("viridian")) is long n)
        {
            defaults = n != 0;
        }

        return Mask(defaults, enable, disable);
    }

    /// <summary>hvm_set_viridian_features (libxl_x86.c): the enlightenment set, then the HVMPV bits.</summary>
    private static ViridianFeatures Mask(bool defaults, ulong enable, ulong disable)
    {
        ulong set = 0;
        if (defaults)
            set |= Bit(Base) | Bit(Freq) | Bit(TimeRefCount) | Bit(ApicAssist) | Bit(CrashCtl) | Bit(NoVpLimit) | Bit(CpuHotplug);

        // libxl_viridian_enlightenment_to_string is NULL beyond the last group: those bits are skipped.
        ulong valid = (1ul << Names.Count) - 1;
        for (int v = 0; v < 64; v++)
        {
            if ((enable & Bit(v)) == 0)
                continue;
            if ((disable & Bit(v)) != 0)
                throw new DomainBuildException($"libxl: {Names[v]} group both enabled and disabled");
            set |= Bit(v) & valid;
        }

        set &= ~(disable & valid);
        if (set != 0 && (set & Bit(Base)) == 0)
            throw new DomainBuildException("libxl: base group not enabled");

        var mask = ViridianFeatures.None;
        if (Has(set, Base))
        {
            mask |= ViridianFeatures.BaseFreq;
            if (!Has(set, Freq))
                mask |= ViridianFeatures.NoFreq;
        }

        if (Has(set, TimeRefCount))
            mask |= ViridianFeatures.TimeRefCount;
        if (Has(set, ReferenceTsc))
            mask |= ViridianFeatures.ReferenceTsc;
        if (Has(set, HcallRemoteTlbFlush))
            mask |= ViridianFeatures.HcallRemoteTlbFlush;
        if (Has(set, ApicAssist))
            mask |= ViridianFeatures.ApicAssist;
        if (Has(set, CrashCtl))
            mask |= ViridianFeatures.CrashCtl;
        if (Has(set, Synic))
            mask |= ViridianFeatures.Synic;
        // The stimer group brings the reference counter and the SynIC with it.
        if (Has(set, Stimer))
            mask |= ViridianFeatures.TimeRefCount | ViridianFeatures.Synic | ViridianFeatures.Stimer;
        if (Has(set, HcallIpi))
            mask |= ViridianFeatures.HcallIpi;
        if (Has(set, ExProcessorMasks))
            mask |= ViridianFeatures.ExProcessorMasks;
        if (Has(set, NoVpLimit))
            mask |= ViridianFeatures.NoVpLimit;
        if (Has(set, CpuHotplug))
            mask |= ViridianFeatures.CpuHotplug;
        return mask;
    }

    private static ulong Bit(int v) => 1ul << v;

    private static bool Has(ulong set, int v) => (set & Bit(v)) != 0;

    private static int IndexOf(string name)
    {
        // libxl_viridian_enlightenment_from_string compares without regard to case (libxl__enum_from_string: strcasecmp).
        for (int i = 0; i < Names.Count; i++)
        {
            if (string.Equals(Names[i], name, StringComparison.OrdinalIgnoreCase))
                return i;
        }

        return -1;
    }

    /// <summary>xlu_cfg_get_bounded_long: strtol(s, &amp;ep, 0), the whole string consumed and no range error; else null.</summary>
    private static long? StrtolBase0(string? s)
    {
        if (s is null)
            return null;
        string t = s.TrimStart(' ', '\t', '\n', '\v', '\f', '\r');
        bool negative = false;
        if (t.Length > 0 && t[0] is '+' or '-')
        {
            negative = t[0] == '-';
            t = t[1..];
        }

        int radix = 10;
        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && t.Length > 2)
        {
            radix = 16;
            t = t[2..];
        }
        else if (t.Length > 1 && t[0] == '0')
        {
            radix = 8;
            t = t[1..];
        }

        if (t.Length == 0)
            return null;
        System.Numerics.BigInteger value = 0;
        foreach (char c in t)
        {
            int d = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiLetter(c) ? char.ToLowerInvariant(c) - 'a' + 10 : 99;
            if (d >= radix)
                return null;
            value = (value * radix) + d;
        }

        if (negative)
            value = -value;
        return value < long.MinValue || value > long.MaxValue ? null : (long)value;
    }
}
