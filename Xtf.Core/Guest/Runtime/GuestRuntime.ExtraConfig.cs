using Xtf.Core.Xen;
using Xtf.Core.Xen.Toolstack;
using Xtf.Core.Xen.Viridian;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>
    /// The toolstack's part of a test's extra xl.cfg lines (<see cref="GuestConfig.ExtraConfig"/>),
    /// as xl create applies them (<see cref="XlCreate"/>): <c>viridian</c> sets HVM_PARAM_VIRIDIAN
    /// on an HVM domain (libxl's hvm_set_viridian_features, only for a non-zero mask) and is an
    /// HVM-only key that libxl ignores for PV (<paramref name="hvm"/> null). Another key is refused.
    /// </summary>
    private static void ApplyExtraConfig(HvmDomain? hvm, string extraConfig)
    {
        if (string.IsNullOrWhiteSpace(extraConfig))
            return;
        DomainConfig cfg;
        try
        {
            cfg = DomainConfig.Parse(extraConfig);
        }
        catch (DomainBuildException e)
        {
            throw new NotSupportedException($"extra cfg: {e.Message}", e);
        }

        foreach (string key in cfg.Keys)
        {
            if (key != "viridian")
                throw new NotSupportedException($"extra cfg key '{key}' is not modelled for C# test cases");
        }

        if (hvm is null)
            return;
        ViridianFeatures viridian;
        try
        {
            viridian = ViridianGroups.FromConfig(cfg);
        }
        catch (DomainBuildException e)
        {
            throw new NotSupportedException($"extra cfg: {e.Message}", e);
        }

        if (viridian != ViridianFeatures.None && hvm.SetViridian(viridian) is var rc and not 0)
            throw new NotSupportedException($"libxl: Couldn't set viridian feature mask (0x{(ulong)viridian:x}): {rc}");
    }
}
