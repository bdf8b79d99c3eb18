using System.Buffers.Binary;
using Xtf.Core.Xen.Pv;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// physdev_op(cmd, arg) = 33 for a PV domU (do_physdev_op, xen/arch/x86/physdev.c; public/physdev.h).
/// PHYSDEVOP_set_iopl: struct physdev_set_iopl { uint32_t iopl; }; a failed copy is -EFAULT,
/// iopl &gt; 3 -EINVAL, else the vCPU's virtual IOPL. PHYSDEVOP_set_iobitmap: struct
/// physdev_set_iobitmap { handle bitmap; uint32_t nr_ports; } (native 16 bytes, compat 8);
/// -EFAULT, then -EINVAL for a bitmap whose IOBMP_BYTES (8 KiB) the guest may not address or
/// nr_ports &gt; 65536. The commands only a privileged domain may use are -EPERM: apic_read,
/// apic_write and alloc_irq_vector after their argument is copied (-EFAULT first), the PCI and
/// GSI management commands before. Unknown commands are -ENOSYS.
/// </summary>
internal static class PhysdevOp
{
    public const int IrqStatusQuery = 5, SetIopl = 6, SetIobitmap = 7, ApicRead = 8, ApicWrite = 9, AllocIrqVector = 10;
    public const int ManagePciAdd = 15, ManagePciRemove = 16, RestoreMsi = 19, ManagePciAddExt = 20, SetupGsi = 21;
    public const int PciMmcfgReserved = 24, PciDeviceAdd = 25, PciDeviceRemove = 26, RestoreMsiExt = 27;

    /// <summary>IOBMP_BYTES: a full I/O bitmap, 65536 ports.</summary>
    public const int IoBitmapBytes = 8192;

    public const uint MaxIoBitmapPorts = 65536;

    public static long Call(PvDomain d, HypercallArgs a)
    {
        int cmd = (int)(uint)a.A1;
        ulong arg = d.Is64BitDomain ? a.A2 : a.A2 & 0xFFFFFFFF;
        switch (cmd)
        {
            case SetIopl:
                {
                    if (!d.Guest.TryReadUInt32(arg, out uint iopl))
                        return -XenErrno.EFAULT;
                    if (iopl > 3)
                        return -XenErrno.EINVAL;
                    d.Vcpu.Iopl = (int)iopl;
                    return 0;
                }

            case SetIobitmap:
                return SetIoBitmap(d, arg);
            case ApicRead or ApicWrite:
                return CopyThenRefuse(d, arg, d.Is64BitDomain ? 16 : 12);
            case AllocIrqVector:
                return CopyThenRefuse(d, arg, 8);
            case ManagePciAdd or ManagePciRemove or ManagePciAddExt or PciDeviceAdd or PciDeviceRemove
                or RestoreMsi or RestoreMsiExt or SetupGsi or PciMmcfgReserved:
                return -XenErrno.EPERM;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    private static long SetIoBitmap(PvDomain d, ulong arg)
    {
        Span<byte> s = stackalloc byte[16];
        int size = d.Is64BitDomain ? 16 : 8;
        if (!d.Guest.TryRead(arg, s[..size]))
            return -XenErrno.EFAULT;
        ulong bitmap = d.Is64BitDomain ? BinaryPrimitives.ReadUInt64LittleEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s);
        uint ports = BinaryPrimitives.ReadUInt32LittleEndian(s[(d.Is64BitDomain ? 8 : 4)..]);
        if (!GuestHandleOkay(d, bitmap, IoBitmapBytes) || ports > MaxIoBitmapPorts)
            return -XenErrno.EINVAL;
        d.PrivilegedOps.IoBitmap = bitmap;
        d.PrivilegedOps.IoBitmapPorts = ports;
        return 0;
    }

    /// <summary>
    /// guest_handle_okay: pv64, neither end of the range in the hypervisor's part of the address
    /// space (2^47 up to HYPERVISOR_VIRT_END); compat, the range below HYPERVISOR_COMPAT_VIRT_START.
    /// </summary>
    private static bool GuestHandleOkay(PvDomain d, ulong address, int bytes)
    {
        ulong last = address + (ulong)bytes - 1;
        if (!d.Is64BitDomain)
            return last < PvAbi.HypervisorVirtStartCompat;
        static bool Ok(ulong x) => x < (1ul << 47) || x >= PvAbi.HypervisorVirtEnd64;
        return last >= address && Ok(address) && Ok(last);
    }

    private static long CopyThenRefuse(PvDomain d, ulong arg, int size)
    {
        Span<byte> s = stackalloc byte[16];
        return d.Guest.TryRead(arg, s[..size]) ? -XenErrno.EPERM : -XenErrno.EFAULT;
    }
}
