namespace Xtf.Core.Guest;

/// <summary>XTF's six guest environments (DESIGN.md section 4), as flags so a test can name several.</summary>
[Flags]
public enum Environments
{
    /// <summary>No environment.</summary>
    None = 0,
    /// <summary>hvm32: 32-bit protected mode, paging off.</summary>
    Hvm32 = 1 << 0,
    /// <summary>hvm32pse: 32-bit protected mode, 2-level paging with PSE (4 MiB pages).</summary>
    Hvm32Pse = 1 << 1,
    /// <summary>hvm32pae: 32-bit protected mode, 3-level PAE paging.</summary>
    Hvm32Pae = 1 << 2,
    /// <summary>hvm64: IA-32e 64-bit mode, 4-level paging.</summary>
    Hvm64 = 1 << 3,
    /// <summary>pv32pae: 32-bit PV guest (kernel in ring 1) on a 64-bit Xen, PAE paging.</summary>
    Pv32Pae = 1 << 4,
    /// <summary>pv64: 64-bit PV guest (kernel and user both in ring 3), 4-level paging.</summary>
    Pv64 = 1 << 5,

    /// <summary>xtf-runner's pseudo-environment "hvm".</summary>
    Hvm = Hvm32 | Hvm32Pse | Hvm32Pae | Hvm64,

    /// <summary>xtf-runner's pseudo-environment "pv".</summary>
    Pv = Pv32Pae | Pv64,

    /// <summary>All six environments.</summary>
    All = Hvm | Pv,
}

/// <summary>Names and descriptions of the environments, as XTF spells them.</summary>
public static class GuestEnvironment
{
    /// <summary>Every single environment, in xtf-runner's sorted order.</summary>
    public static readonly IReadOnlyList<Environments> AllEnvironments =
        [Environments.Hvm32, Environments.Hvm32Pae, Environments.Hvm32Pse, Environments.Hvm64, Environments.Pv32Pae, Environments.Pv64];

    /// <summary>XTF's name of a single environment (<c>hvm32</c>, <c>pv64</c>, ...); throws <see cref="ArgumentOutOfRangeException"/> for a set or <see cref="Environments.None"/>.</summary>
    public static string Name(Environments env) => env switch
    {
        Environments.Hvm32 => "hvm32",
        Environments.Hvm32Pse => "hvm32pse",
        Environments.Hvm32Pae => "hvm32pae",
        Environments.Hvm64 => "hvm64",
        Environments.Pv32Pae => "pv32pae",
        Environments.Pv64 => "pv64",
        _ => throw new ArgumentOutOfRangeException(nameof(env), env, "not a single environment"),
    };

    /// <summary>Parses one of the six environment names exactly (case-sensitive, as xtf-runner matches them); pseudo-environments such as "hvm" are not accepted here.</summary>
    public static bool TryParse(string name, out Environments env)
    {
        foreach (var e in AllEnvironments)
        {
            if (Name(e) == name)
            {
                env = e;
                return true;
            }
        }

        env = Environments.None;
        return false;
    }

    /// <summary>The <c>Environment:</c> line of the boot banner (XTF's environment_description).</summary>
    public static string Description(Environments env) => env switch
    {
        Environments.Hvm32 => "HVM 32bit (No paging)",
        Environments.Hvm32Pse => "HVM 32bit (PSE 2 levels)",
        Environments.Hvm32Pae => "HVM 32bit (PAE 3 levels)",
        Environments.Hvm64 => "HVM 64bit (Long mode 4 levels)",
        Environments.Pv32Pae => "PV 32bit (PAE 3 levels)",
        Environments.Pv64 => "PV 64bit (Long mode 4 levels)",
        _ => throw new ArgumentOutOfRangeException(nameof(env), env, "not a single environment"),
    };

    /// <summary>The single environments contained in a set, in sorted order.</summary>
    public static IEnumerable<Environments> Expand(Environments set) => AllEnvironments.Where(e => (set & e) != 0);
}
