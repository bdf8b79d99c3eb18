using NUnit.Framework;
using Xtf.Core.Xen.Toolstack;
using Xtf.Core.Xen.Viridian;

namespace Xtf.Tests.Toolstack;

/// <summary>
/// The cfg key <c>viridian</c> to HVM_PARAM_VIRIDIAN, as xl (tools/xl/xl_parse.c) and libxl
/// (tools/libs/light/libxl_x86.c, hvm_set_viridian_features) compute it. Expected masks are the
/// HVMPV_* bits of xen/include/public/hvm/params.h: base_freq 0x1, no_freq 0x2, time_ref_count
/// 0x4, reference_tsc 0x8, hcall_remote_tlb_flush 0x10, apic_assist 0x20, crash_ctl 0x40, synic
/// 0x80, stimer 0x100, hcall_ipi 0x200, ex_processor_masks 0x400, no_vp_limit 0x800, cpu_hotplug
/// 0x1000.
/// </summary>
[TestFixture]
public sealed class ViridianGroupsTests
{
    /// <summary>libxl's defaults (viridian = 1): base, freq, time_ref_count, apic_assist, crash_ctl, no_vp_limit, cpu_hotplug.</summary>
    private const ulong Defaults = 0x1 | 0x4 | 0x20 | 0x40 | 0x800 | 0x1000;

    /// <summary>Every group: base with freq (so no no_freq), and 0x4 through 0x1000.</summary>
    private const ulong All = 0x1FFD;

    private static ulong Mask(string value) => (ulong)ViridianGroups.FromConfig(DomainConfig.Parse($"viridian = {value}"));

    [TestCase("[ \"base\", \"reference_tsc\" ]", 0x1ul | 0x2 | 0x8, TestName = "xsa-472-1's groups: base without freq gives no_freq, plus reference_tsc")]
    [TestCase("[ \"base\", \"freq\" ]", 0x1ul, TestName = "base with freq is base_freq alone")]
    [TestCase("[ \"base\", \"stimer\" ]", 0x1ul | 0x2 | 0x4 | 0x80 | 0x100, TestName = "stimer brings time_ref_count and synic")]
    [TestCase("[ \"defaults\" ]", Defaults, TestName = "defaults is the boolean's set")]
    [TestCase("[ \"defaults\", \"!freq\" ]", Defaults | 0x2, TestName = "a ! removes a default group")]
    [TestCase("[ \"all\" ]", All, TestName = "all enables every group")]
    [TestCase("[ \"all\", \"!stimer\" ]", All & ~0x100ul, TestName = "all then !stimer drops only the stimer bit")]
    [TestCase("[ \"reference_tsc\", \"!reference_tsc\", \"base\" ]", 0x1ul | 0x2, TestName = "a later ! wins over an earlier enable")]
    [TestCase("[ \"!base\" ]", 0ul, TestName = "only disables: nothing")]
    [TestCase("[ ]", 0ul, TestName = "an empty list: nothing")]
    [TestCase("[ \"BASE\" ]", 0x1ul | 0x2, TestName = "group names ignore case, as libxl's enum parser does")]
    [TestCase("1", Defaults, TestName = "viridian = 1 is the defaults")]
    [TestCase("0", 0ul, TestName = "viridian = 0 is off")]
    [TestCase("\"1\"", Defaults, TestName = "a quoted 1 is a number to strtol")]
    [TestCase("\"0x10\"", Defaults, TestName = "strtol base 0 reads hex")]
    [TestCase("\"yes\"", 0ul, TestName = "a single value that is not a number leaves viridian off, silently")]
    public void Groups(string value, ulong expected) => Assert.That(Mask(value), Is.EqualTo(expected));

    [Test]
    public void UnsetIsOff() =>
        Assert.That(ViridianGroups.FromConfig(DomainConfig.Parse("type = \"hvm\"")), Is.EqualTo(ViridianFeatures.None));

    [TestCase("[ \"base\", \"bogus\" ]", "xl: unknown viridian enlightenment 'bogus'", TestName = "an unknown group is refused by xl")]
    [TestCase("[ \"base\", \"!nope\" ]", "xl: unknown viridian enlightenment 'nope'", TestName = "an unknown negated group is refused by xl")]
    [TestCase("[ \"stimer\" ]", "libxl: base group not enabled", TestName = "groups without base are refused by libxl")]
    [TestCase("[ \"base\", \"!base\", \"freq\" ]", "libxl: base group not enabled", TestName = "base removed again is refused by libxl")]
    [TestCase("[ \"!stimer\", \"all\" ]", "libxl: stimer group both enabled and disabled", TestName = "all after a ! is both enabled and disabled")]
    public void Refused(string value, string message) =>
        Assert.That(() => Mask(value), Throws.TypeOf<DomainBuildException>().With.Message.EqualTo(message));
}
