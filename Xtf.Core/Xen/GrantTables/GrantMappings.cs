namespace Xtf.Core.Xen.GrantTables;

/// <summary>GNTMAP_* flags of map_grant_ref (public/grant_table.h).</summary>
public static class GntMap
{
    /// <summary>GNTMAP_device_map.</summary>
    public const uint DeviceMap = 1 << 0;
    /// <summary>GNTMAP_host_map.</summary>
    public const uint HostMap = 1 << 1;
    /// <summary>GNTMAP_readonly.</summary>
    public const uint Readonly = 1 << 2;
    /// <summary>GNTMAP_application_map.</summary>
    public const uint ApplicationMap = 1 << 3;
    /// <summary>GNTMAP_contains_pte: host_addr is the machine address of the L1 entry to write.</summary>
    public const uint ContainsPte = 1 << 4;
    /// <summary>_GNTMAP_guest_avail0: the three guest-available PTE bits start here.</summary>
    public const int GuestAvail0Shift = 16;
}

/// <summary>
/// An active grant entry (struct active_grant_entry): the pins of one granted reference, by
/// kind (GNTPIN_hstw/hstr/devw/devr), the domain it is mapped by and the frame it resolved to.
/// </summary>
public sealed class ActiveGrant
{
    /// <summary>Host (CPU) mappings, writable and read-only.</summary>
    public int HostWrite, HostRead;

    /// <summary>Device mappings, writable and read-only.</summary>
    public int DeviceWrite, DeviceRead;

    /// <summary>act->domid: the mapping domain.</summary>
    public ushort Domid;

    /// <summary>act->mfn.</summary>
    public ulong Mfn;

    /// <summary>act->pin != 0.</summary>
    public bool Pinned => HostWrite + HostRead + DeviceWrite + DeviceRead != 0;

    /// <summary>GNTPIN_hstw_mask | GNTPIN_devw_mask.</summary>
    public bool WritePinned => HostWrite + DeviceWrite != 0;
}

/// <summary>A maptrack entry (struct grant_mapping): what a handle maps; flags 0 means free.</summary>
public sealed class GrantMapping
{
    /// <summary>The granting domain and its reference.</summary>
    public ushort Domid;

    /// <summary>The grant reference.</summary>
    public uint Ref;

    /// <summary>The GNTMAP_* flags still mapped.</summary>
    public uint Flags;
}
