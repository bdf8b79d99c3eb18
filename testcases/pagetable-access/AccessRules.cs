namespace Xtf.TestCases.PagetableAccess;

/// <summary>The kinds of access the test makes to the test page.</summary>
internal enum AccessKind
{
    Read,
    Write,
    Fetch,
}

/// <summary>One permutation: the leaf and non-leaf bits, the paging controls, and the access.</summary>
internal readonly record struct Permutation(
    bool PtePresent, bool PteWrite, bool PteUser, bool PteNx,
    bool PdeWrite, bool PdeUser, bool PdeNx,
    bool Wp, bool Smep, bool Smap, bool Nxe, bool Ac,
    bool User, AccessKind Kind, bool Implicit = false)
{
    public override string ToString() =>
        $"{(User ? "user" : "supervisor")} {(Implicit ? "implicit " : "")}{Kind.ToString().ToLowerInvariant()}"
        + $" pte[{Bits(PtePresent, PteWrite, PteUser, PteNx)}] pde[{Bits(true, PdeWrite, PdeUser, PdeNx)}]"
        + $" wp={B(Wp)} smep={B(Smep)} smap={B(Smap)} nxe={B(Nxe)} ac={B(Ac)}";

    private static string Bits(bool p, bool w, bool u, bool nx) => $"{(p ? "P" : "-")}{(w ? "W" : "-")}{(u ? "U" : "-")}{(nx ? "X" : "-")}";

    private static int B(bool b) => b ? 1 : 0;
}

/// <summary>
/// What the SDM says an access does, worked out from the rules of SDM vol. 3, chapter 4 for PAE
/// and 4-level paging, written here independently of the emulator's page walker:
/// <list type="bullet">
/// <item>4.4.2/4.5.4: the walk goes top-down; at each entry P=0 stops it with a not-present #PF, then
/// a reserved bit set stops it with RSVD; bit 63 (XD) is reserved unless EFER.NXE = 1.</item>
/// <item>4.6.1: user accesses need U/S = 1 in every entry, writes also R/W = 1 in every entry;
/// supervisor writes to a read-only translation fault only with CR0.WP = 1; instruction fetches
/// fault where XD = 1 in any entry (with NXE); SMEP forbids supervisor fetches from user pages;
/// SMAP forbids supervisor data accesses to user pages unless EFLAGS.AC = 1.</item>
/// <item>4.6: an implicit access (here the descriptor read of a segment load from an LDT on the
/// test page) is a supervisor-mode access whatever the CPL, and SMAP applies to it whatever
/// EFLAGS.AC says.</item>
/// <item>4.7: the error code is P (the fault was not a not-present entry), W/R, U/S (a user
/// access), RSVD, and I/D for a fetch when SMEP or NXE is on (PAE and 4-level paging).</item>
/// <item>4.8: a successful access sets A in the leaf, and D too for a write.</item>
/// </list>
/// </summary>
internal static class AccessRules
{
    public const uint P = 1, W = 2, U = 4, Rsvd = 8, Id = 0x10;

    /// <summary>The #PF error code the access takes, or null if it succeeds.</summary>
    public static uint? ExpectedFault(Permutation p)
    {
        if (p.Implicit)
            p = p with { User = false, Ac = false };
        uint kindBits = (p.Kind == AccessKind.Write ? W : 0) | (p.User ? U : 0)
            | (p.Kind == AccessKind.Fetch && (p.Smep || p.Nxe) ? Id : 0);

        // The walk: the PDE (present here), then the PTE.
        if (p.PdeNx && !p.Nxe)
            return P | Rsvd | kindBits;
        if (!p.PtePresent)
            return kindBits;
        if (p.PteNx && !p.Nxe)
            return P | Rsvd | kindBits;

        bool userPage = p.PdeUser && p.PteUser;
        bool writable = p.PdeWrite && p.PteWrite;
        bool executeDisabled = p.Nxe && (p.PdeNx || p.PteNx);
        bool allowed = (p.User, p.Kind) switch
        {
            (true, AccessKind.Read) => userPage,
            (true, AccessKind.Write) => userPage && writable,
            (true, AccessKind.Fetch) => userPage && !executeDisabled,
            (false, AccessKind.Read) => !(p.Smap && userPage && !p.Ac),
            (false, AccessKind.Write) => (writable || !p.Wp) && !(p.Smap && userPage && !p.Ac),
            _ => !executeDisabled && !(p.Smep && userPage),
        };
        return allowed ? null : P | kindBits;
    }
}
