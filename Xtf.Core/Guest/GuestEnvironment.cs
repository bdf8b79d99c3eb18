namespace Xtf.Core.Guest;

/// <summary>XTF's six guest environments (DESIGN.md section 4), as flags so a test can name several.</summary>
[Flags]
public enum Environments
{
    None = 0,
    Hvm32 = 1 << 0,
    Hvm32Pse = 1 << 1,
    Hvm32Pae = 1 << 2,
    Hvm64 = 1 << 3,
    Pv32Pae = 1 << 4,
    Pv64 = 1 << 5,

    /// <summary>xtf-runner's pseudo-environment "hvm".</summary>
    Hvm = Hvm32 | Hvm32Pse | Hvm32Pae | Hvm64,

    /// <summary>xtf-runner's pseudo-environment "pv".</summary>
    Pv = Pv32Pae | Pv64,

    All = Hvm | Pv,
}

/// <summary>Names and descriptions of the environments, as XTF spells them.</summary>
public static class GuestEnvironment
{
    /// <summary>Every single environment, in xtf-runner's sorted order.</summary>
    public static readonly IReadOnlyList<Environments> AllEnvironments =
        [Environments.Hvm32, Environments.Hvm32Pae, Environments.Hvm32Pse, Environments.Hvm64, Environments.Pv32Pae, Environments.Pv64];

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
