namespace Xtf.Core.Xen.GrantTables;

/// <summary>GNTTABOP_* sub-operations of __HYPERVISOR_grant_table_op (public/grant_table.h).</summary>
public static class GnttabOp
{
    /// <summary>GNTTABOP_map_grant_ref.</summary>
    public const uint MapGrantRef = 0;
    /// <summary>GNTTABOP_unmap_grant_ref.</summary>
    public const uint UnmapGrantRef = 1;
    /// <summary>GNTTABOP_setup_table.</summary>
    public const uint SetupTable = 2;
    /// <summary>GNTTABOP_dump_table.</summary>
    public const uint DumpTable = 3;
    /// <summary>GNTTABOP_transfer.</summary>
    public const uint Transfer = 4;
    /// <summary>GNTTABOP_copy.</summary>
    public const uint Copy = 5;
    /// <summary>GNTTABOP_query_size.</summary>
    public const uint QuerySize = 6;
    /// <summary>GNTTABOP_unmap_and_replace.</summary>
    public const uint UnmapAndReplace = 7;
    /// <summary>GNTTABOP_set_version.</summary>
    public const uint SetVersion = 8;
    /// <summary>GNTTABOP_get_status_frames.</summary>
    public const uint GetStatusFrames = 9;
    /// <summary>GNTTABOP_get_version.</summary>
    public const uint GetVersion = 10;
    /// <summary>GNTTABOP_swap_grant_ref.</summary>
    public const uint SwapGrantRef = 11;
    /// <summary>GNTTABOP_cache_flush.</summary>
    public const uint CacheFlush = 12;

    /// <summary>GNTTABOP_CMD_MASK: the low 7 bits of cmd; the rest (GNTTABOP_ARG_MASK) is continuation state, which only cache_flush may carry.</summary>
    public const uint CmdMask = 0x7F;
}

/// <summary>GNTST_* status codes written to an op's status field (public/grant_table.h).</summary>
public static class GntSt
{
    /// <summary>GNTST_okay.</summary>
    public const short Okay = 0;
    /// <summary>GNTST_general_error.</summary>
    public const short GeneralError = -1;
    /// <summary>GNTST_bad_domain.</summary>
    public const short BadDomain = -2;
    /// <summary>GNTST_bad_gntref.</summary>
    public const short BadGntref = -3;
    /// <summary>GNTST_bad_handle.</summary>
    public const short BadHandle = -4;
    /// <summary>GNTST_bad_virt_addr.</summary>
    public const short BadVirtAddr = -5;
    /// <summary>GNTST_bad_dev_addr.</summary>
    public const short BadDevAddr = -6;
    /// <summary>GNTST_no_device_space.</summary>
    public const short NoDeviceSpace = -7;
    /// <summary>GNTST_permission_denied.</summary>
    public const short PermissionDenied = -8;
    /// <summary>GNTST_bad_page.</summary>
    public const short BadPage = -9;
    /// <summary>GNTST_bad_copy_arg.</summary>
    public const short BadCopyArg = -10;
    /// <summary>GNTST_address_too_big.</summary>
    public const short AddressTooBig = -11;
    /// <summary>GNTST_eagain.</summary>
    public const short Eagain = -12;
    /// <summary>GNTST_no_space.</summary>
    public const short NoSpace = -13;
}

/// <summary>Grant entry flags (GTF_*, public/grant_table.h).</summary>
public static class Gtf
{
    /// <summary>GTF_type_mask.</summary>
    public const ushort TypeMask = 3;
    /// <summary>GTF_invalid.</summary>
    public const ushort Invalid = 0;
    /// <summary>GTF_permit_access.</summary>
    public const ushort PermitAccess = 1;
    /// <summary>GTF_accept_transfer.</summary>
    public const ushort AcceptTransfer = 2;
    /// <summary>GTF_transitive.</summary>
    public const ushort Transitive = 3;
    /// <summary>GTF_readonly.</summary>
    public const ushort Readonly = 1 << 2;
    /// <summary>GTF_reading.</summary>
    public const ushort Reading = 1 << 3;
    /// <summary>GTF_writing.</summary>
    public const ushort Writing = 1 << 4;
    /// <summary>GTF_sub_page (v2).</summary>
    public const ushort SubPage = 1 << 8;
}

/// <summary>Layout constants of the grant table itself.</summary>
public static class GrantLayout
{
    /// <summary>sizeof(grant_entry_v1_t): { uint16_t flags; domid_t domid; uint32_t frame; }.</summary>
    public const int EntryV1Size = 8;
    /// <summary>sizeof(grant_entry_v2_t): header { flags, domid } then a 12-byte union (full_page: pad0, uint64_t frame at 8).</summary>
    public const int EntryV2Size = 16;
    /// <summary>sizeof(grant_status_t) (uint16_t).</summary>
    public const int StatusSize = 2;
    /// <summary>GNTTAB_NR_RESERVED_ENTRIES: the toolstack's entries (console, xenstore), kept across set_version.</summary>
    public const int ReservedEntries = 8;
    /// <summary>XENMAPIDX_grant_table_status (public/memory.h): add_to_physmap idx bit naming a status frame.</summary>
    public const ulong MapIdxStatus = 0x8000_0000;
}
