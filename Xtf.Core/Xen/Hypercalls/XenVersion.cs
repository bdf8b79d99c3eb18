using System.Text;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>HYPERVISOR_xen_version(cmd, arg) (public/version.h, xen/common/kernel.c do_xen_version).</summary>
internal static class XenVersion
{
    public const int Major = 4;
    public const int Minor = 19;
    public const string Extraversion = ".0";
    public const string Changeset = "Xtf.NET emulated hypervisor";

    /// <summary>XENFEAT_* numbers (public/features.h).</summary>
    private const int WritablePageTables = 0, AutoTranslatedPhysmap = 2, PaePgdirAbove4Gb = 4, MmuPtUpdatePreserveAd = 5,
        HighmemAssist = 6, GnttabMapAvailBits = 7, HvmCallbackVector = 8, HvmSafePvclock = 9, MemoryOpVnodeSupported = 13,
        NotDirectMapped = 16, DirectMapped = 17, RunstatePhysArea = 18, VcpuTimePhysArea = 19, DmMsixAllWrites = 20;

    /// <summary>The "<c>&lt;denied&gt;</c>" string an unprivileged domain reads in place of a privileged one (xen_deny()).</summary>
    public const string Denied = "<denied>";

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        int cmd = (int)a.A1;
        ulong arg = a.A2;
        switch (cmd)
        {
            case XenVersionCommand.Version:
                return (Major << 16) | Minor;
            case XenVersionCommand.Extraversion:
                return CopyString(ctx, arg, Extraversion, 16);
            case XenVersionCommand.CompileInfo:
                {
                    // struct { char compiler[64]; char compile_by[16]; char compile_domain[32]; char compile_date[32]; }
                    var info = new byte[144];
                    Put(info, 0, 64, "C# (.NET)");
                    Put(info, 64, 16, "xtf");
                    Put(info, 80, 32, "xtf.net");
                    Put(info, 112, 32, "2026-11-21");
                    return ctx.Guest.TryWrite(arg, info) ? 0 : -XenErrno.EFAULT;
                }

            case XenVersionCommand.Capabilities:
                return CopyString(ctx, arg, Capabilities(ctx), 1024);
            case XenVersionCommand.Changeset:
                return CopyString(ctx, arg, Changeset, 64);
            case XenVersionCommand.PlatformParameters:
                {
                    // struct { xen_ulong_t virt_start; }: HYPERVISOR_VIRT_START (native) or the compat one.
                    ulong start = ctx.Is64Bit ? 0xFFFF800000000000ul : 0xF5800000ul;
                    var b = new byte[ctx.Is64Bit ? 8 : 4];
                    BitConverter.TryWriteBytes(b, ctx.Is64Bit ? start : (uint)start);
                    return ctx.Guest.TryWrite(arg, b) ? 0 : -XenErrno.EFAULT;
                }

            case XenVersionCommand.GetFeatures:
                {
                    // struct xen_feature_info { unsigned int submap_idx; uint32_t submap; }: the whole
                    // struct is read first, and XENFEAT_NR_SUBMAPS is 1, so any other index is -EINVAL.
                    if (!ctx.Guest.TryReadUInt32(arg, out uint idx) || !ctx.Guest.TryReadUInt32(arg + 4, out _))
                        return -XenErrno.EFAULT;
                    if (idx != 0)
                        return -XenErrno.EINVAL;
                    return ctx.Guest.TryWrite(arg + 4, BitConverter.GetBytes(Features(ctx))) ? 0 : -XenErrno.EFAULT;
                }

            case XenVersionCommand.Pagesize:
                // Not privileged; a non-null handle is -EINVAL.
                return arg != 0 ? -XenErrno.EINVAL : 4096;
            case XenVersionCommand.GuestHandle:
                return ctx.Guest.TryWrite(arg, new byte[16]) ? 0 : -XenErrno.EFAULT;
            case XenVersionCommand.Commandline:
                {
                    // Privileged (xsm_xen_version: XSM_PRIV), but not an error: an unprivileged domain
                    // gets xen_deny() copied, strlen + 1 bytes, and 0.
                    var denied = Encoding.ASCII.GetBytes(Denied + "\0");
                    return ctx.Guest.TryWrite(arg, denied) ? 0 : -XenErrno.EFAULT;
                }

            case XenVersionCommand.BuildId:
            case XenVersionCommand.Commandline2:
                // The variable-buffer privileged sub-ops: "if ( deny ) return -EPERM;", before any copy.
                return -XenErrno.EPERM;
            case XenVersionCommand.Extraversion2:
                return VarBuf(ctx, arg, Extraversion);
            case XenVersionCommand.Capabilities2:
                return VarBuf(ctx, arg, Capabilities(ctx));
            case XenVersionCommand.Changeset2:
                return VarBuf(ctx, arg, Changeset);
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>
    /// Submap 0 as do_xen_version builds it for an unprivileged x86 domain: vnode support and the
    /// two physical-area hypercalls always; HVM (paging_mode_translate, not direct-mapped, no
    /// pirqs: libxl leaves <c>pirq</c> off by default) writable page tables, auto-translated
    /// physmap, safe pvclock, callback vector; PV the pt-update A/D, highmem and grant-map
    /// avail-bits features, pae_pgdir_above_4gb with VMASST_TYPE_pae_extended_cr3, and direct-mapped;
    /// both dm_msix_all_writes.
    /// </summary>
    private static uint Features(IHypercallContext ctx)
    {
        uint f = Bit(MemoryOpVnodeSupported) | Bit(VcpuTimePhysArea) | Bit(RunstatePhysArea) | Bit(DmMsixAllWrites);
        if (ctx is Pv.PvDomain pv)
        {
            f |= Bit(MmuPtUpdatePreserveAd) | Bit(HighmemAssist) | Bit(GnttabMapAvailBits) | Bit(DirectMapped);
            if ((pv.Vcpu.VmAssist & (1ul << VmAssist.TypePaeExtendedCr3)) != 0)
                f |= Bit(PaePgdirAbove4Gb);
        }
        else
        {
            f |= Bit(WritablePageTables) | Bit(AutoTranslatedPhysmap) | Bit(HvmSafePvclock) | Bit(HvmCallbackVector) | Bit(NotDirectMapped);
        }

        return f;
    }

    private static uint Bit(int feature) => 1u << feature;

    private static string Capabilities(IHypercallContext ctx) =>
        ctx.IsHvm ? "hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64" : "xen-3.0-x86_64 xen-3.0-x86_32p";

    private static void Put(byte[] buffer, int offset, int size, string s)
    {
        var bytes = Encoding.ASCII.GetBytes(s);
        bytes.AsSpan(0, Math.Min(bytes.Length, size - 1)).CopyTo(buffer.AsSpan(offset));
    }

    /// <summary>A fixed-size NUL-terminated string buffer (xen_extraversion_t and friends).</summary>
    private static long CopyString(IHypercallContext ctx, ulong arg, string s, int size)
    {
        var b = new byte[size];
        Put(b, 0, size, s);
        return ctx.Guest.TryWrite(arg, b) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>
    /// struct xen_varbuf { uint32_t len; unsigned char buf[]; }: a NULL handle asks for the size;
    /// otherwise up to len bytes (no NUL) are written and their count returned.
    /// </summary>
    private static long VarBuf(IHypercallContext ctx, ulong arg, string s)
    {
        var bytes = Encoding.ASCII.GetBytes(s);
        if (arg == 0)
            return bytes.Length;
        if (!ctx.Guest.TryReadUInt32(arg, out uint len))
            return -XenErrno.EFAULT;
        if (len < bytes.Length)
            return -XenErrno.ENOBUFS;
        return ctx.Guest.TryWrite(arg + 4, bytes) ? bytes.Length : -XenErrno.EFAULT;
    }
}
