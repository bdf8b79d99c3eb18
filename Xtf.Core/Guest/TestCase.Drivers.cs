using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest;

/// <summary>XTF's apic_mode (arch/x86/include/arch/apic.h).</summary>
public enum ApicMode
{
    /// <summary>APIC_MODE_UNKNOWN: not probed yet.</summary>
    Unknown,

    /// <summary>APIC_MODE_NONE: no local APIC (RDMSR of IA32_APIC_BASE faults, or EXTD without EN).</summary>
    None,

    /// <summary>APIC_MODE_DISABLED: IA32_APIC_BASE.EN clear.</summary>
    Disabled,

    /// <summary>APIC_MODE_XAPIC: MMIO at APIC_DEFAULT_BASE.</summary>
    Xapic,

    /// <summary>APIC_MODE_X2APIC: the x2APIC MSRs.</summary>
    X2apic,
}

/// <summary>
/// XTF's basic drivers, as its code does them, every access a guest instruction: the local APIC
/// (arch/x86/apic.c), HPET (arch/x86/hpet.c) and IO-APIC (arch/x86/io-apic.c) probes, which report
/// -ENODEV on bare MMIO (all ones) or when the device is absent; xenstore (common/xenbus.c); and
/// the grant table (common/grant_table.c, arch/x86/grant_table.c).
/// </summary>
public abstract partial class TestCase
{
    // arch/x86/include/arch/apic.h, hpet.h, io-apic.h, msr-index.h.
    private const uint MsrApicBase = 0x1B, MsrX2apicRegs = 0x800;
    private const ulong ApicBaseExtd = 1ul << 10, ApicBaseEnable = 1ul << 11, ApicDefaultBase = 0xFEE00000, PageMask = ~0xFFFul;
    private const uint ApicSpiv = 0xF0, ApicSpivApicEnabled = 0x100;
    private const uint HpetDefaultBase = 0xFED00000, HpetIdMaxPeriod = 0x05F5E100, HpetIdNumberMask = 0x1F00;
    private const uint IoapicDefaultBase = 0xFEC00000, IoapicIowin = 0x10, IoapicVersion = 1, IoapicMaxredirMask = 0xFF0000;

    // public/grant_table.h.
    private const int GnttabOpSetupTable = 2, GnttabOpSetVersion = 8;

    /// <summary>EIO (xen/include/public/errno.h, 5), which XTF returns for a failed grant-table setup.</summary>
    private const int Eio = 5;

    private ApicMode curApicMode;
    private bool setVersionUnavailable, gnttabMapped;

    /// <summary>XTF's cur_apic_mode.</summary>
    protected ApicMode CurApicMode => curApicMode;

    /// <summary>The HPET's number of timers after a successful <see cref="HpetInit"/> (hpet_nr_timers).</summary>
    protected uint HpetNrTimers { get; private set; }

    /// <summary>The IO-APIC's redirection entries after a successful <see cref="IoapicInit"/> (nr_entries).</summary>
    protected uint IoapicNrEntries { get; private set; }

    /// <summary>
    /// XTF's apic_init: the first call reads IA32_APIC_BASE with rdmsr_safe (a fault: no APIC) and
    /// moves the MMIO base back to APIC_DEFAULT_BASE if needed. No APIC, or x2APIC requested without
    /// CPUID's x2APIC, is -ENODEV. Otherwise the mode is switched (disable, then EN, then EXTD) and
    /// the APIC software-enabled with spurious vector 0xff.
    /// </summary>
    protected int ApicInit(ApicMode mode)
    {
        if (curApicMode == ApicMode.Unknown)
        {
            if (!TryRdmsr(MsrApicBase, out ulong msrval))
            {
                curApicMode = ApicMode.None;
            }
            else
            {
                curApicMode = (msrval & (ApicBaseExtd | ApicBaseEnable)) switch
                {
                    0 => ApicMode.Disabled,
                    ApicBaseEnable => ApicMode.Xapic,
                    ApicBaseExtd | ApicBaseEnable => ApicMode.X2apic,
                    _ => ApicMode.None,
                };
                if ((msrval & PageMask) != ApicDefaultBase)
                    Wrmsr(MsrApicBase, (msrval & ~PageMask) | ApicDefaultBase);
            }
        }

        if (curApicMode == ApicMode.None || (mode == ApicMode.X2apic && !CpuHas(CpuFeature.X2apic)))
            return -XenErrno.ENODEV;

        if (mode != curApicMode)
        {
            _ = TryRdmsr(MsrApicBase, out ulong msrval);
            msrval &= ~(ApicBaseExtd | ApicBaseEnable);
            Wrmsr(MsrApicBase, msrval);
            if (mode is ApicMode.Xapic or ApicMode.X2apic)
                Wrmsr(MsrApicBase, msrval | ApicBaseEnable);
            if (mode == ApicMode.X2apic)
                Wrmsr(MsrApicBase, msrval | ApicBaseEnable | ApicBaseExtd);
            curApicMode = mode;
        }

        if (curApicMode == ApicMode.Xapic)
            MmioWrite32((uint)ApicDefaultBase + ApicSpiv, ApicSpivApicEnabled | 0xFF);
        else
            Wrmsr(MsrX2apicRegs + (ApicSpiv >> 4), ApicSpivApicEnabled | 0xFF);
        return 0;
    }

    /// <summary>XTF's hpet_init: HPET_ID (64 bits at HPET_DEFAULT_BASE) all ones is bare MMIO, a tick period of 0 or above HPET_ID_MAX_PERIOD no HPET (-ENODEV both); else the timer count.</summary>
    protected int HpetInit()
    {
        ulong id = MmioRead32(HpetDefaultBase) | ((ulong)MmioRead32(HpetDefaultBase + 4) << 32);
        if (id == ulong.MaxValue)
            return -XenErrno.ENODEV;
        uint period = (uint)(id >> 32);
        if (period == 0 || period > HpetIdMaxPeriod)
            return -XenErrno.ENODEV;
        HpetNrTimers = (((uint)id & HpetIdNumberMask) >> 8) + 1;
        return 0;
    }

    /// <summary>XTF's ioapic_init: IOAPIC_ID read through IOREGSEL/IOWIN; all ones is bare MMIO (-ENODEV); else the entry count from IOAPIC_VERSION.</summary>
    protected int IoapicInit()
    {
        if (IoapicRead32(0) == uint.MaxValue)
            return -XenErrno.ENODEV;
        IoapicNrEntries = ((IoapicRead32(IoapicVersion) & IoapicMaxredirMask) >> 16) + 1;
        return 0;
    }

    private uint IoapicRead32(uint reg)
    {
        MmioWrite32(IoapicDefaultBase, reg);
        return MmioRead32(IoapicDefaultBase + IoapicIowin);
    }

    /// <summary>A 32-bit load through a pointer (XTF's volatile MMIO accessors; a 64-bit guest addresses it through a register, as compiled C does).</summary>
    private uint MmioRead32(uint address) => ExecDetailed(a =>
    {
        a.mov(edx, address);
        if (Bitness == 64)
            a.mov(eax, __dword_ptr[rdx]);
        else
            a.mov(eax, __dword_ptr[edx]);
    }, ExecFaults.Unhandled).Eax;

    private void MmioWrite32(uint address, uint value) => Exec(a =>
    {
        a.mov(edx, address);
        a.mov(eax, value);
        if (Bitness == 64)
            a.mov(__dword_ptr[rdx], eax);
        else
            a.mov(__dword_ptr[edx], eax);
    });

    /// <summary>XTF's wrmsr (a fault is an unhandled exception, as in XTF).</summary>
    private void Wrmsr(uint index, ulong value) => ExecDetailed(a =>
    {
        a.mov(ecx, index);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }, ExecFaults.Unhandled);

    /// <summary>XTF's xenstore_init (<see cref="Runtime.GuestRuntime.XenstoreInit"/>): 0, or -ENODEV without a connected xenstore channel.</summary>
    protected int XenstoreInit() => Runtime.XenstoreInit();

    /// <summary>XTF's xenstore_read: the value of <paramref name="path"/>, or null for an error reply.</summary>
    protected string? XenstoreRead(string path) => Runtime.XenstoreRead(path);

    /// <summary>
    /// Where gnttab_raw[] lives: XTF puts the page in its bss. This image has no spare page, so
    /// free RAM is used: in HVM the first frame above the image (identity-mapped), in PV the
    /// first page after the boot stack (mapped at start of day, below MappedEnd).
    /// </summary>
    protected ulong GnttabRaw => Runtime.IsPv ? Runtime.StartOfDay!.StackTop : HvmLayout.ImageEnd;

    /// <summary>
    /// XTF's xtf_init_grant_table: GNTTABOP_set_version (struct gnttab_set_version { uint32_t
    /// version; }); -ENOSYS marks it unavailable (then only version 1 works, else -ENODEV), another
    /// error is -EIO. Then, once, arch_map_gnttab: PV GNTTABOP_setup_table of one frame and
    /// update_va_mapping of gnttab_raw to it (AD, RW, P; UVMF_INVLPG); HVM XENMEM_add_to_physmap
    /// of grant-table frame 0 at gnttab_raw's gfn. A failure there is -EIO.
    /// </summary>
    protected int XtfInitGrantTable(uint version)
    {
        if (!setVersionUnavailable)
        {
            Runtime.WriteKernelBytes(HvmLayout.Scratch, BitConverter.GetBytes(version));
            long rc = Hypercall(HypercallNumber.GrantTableOp, GnttabOpSetVersion, HvmLayout.Scratch, 1);
            if (rc == -XenErrno.ENOSYS)
            {
                setVersionUnavailable = true;
            }
            else if (rc != 0)
            {
                Printk($"xtf_init_grant_table() GNTTABOP_set_version failed: rc {rc}\n");
                return -Eio;
            }
        }

        if (setVersionUnavailable && version != 1)
            return -XenErrno.ENODEV;
        if (gnttabMapped)
            return 0;
        int mapped = ArchMapGnttab();
        gnttabMapped = mapped == 0;
        return mapped;
    }

    private int ArchMapGnttab()
    {
        long rc;
        if (Runtime.IsPv)
        {
            // struct gnttab_setup_table { domid_t dom; uint32_t nr_frames; int16_t status;
            // XEN_GUEST_HANDLE(xen_pfn_t) frame_list; }: the handle at 16 (pv64) or 12 (compat),
            // the one-entry list after the structure.
            ulong list = HvmLayout.Scratch + 32;
            var setup = new byte[32];
            BitConverter.TryWriteBytes(setup.AsSpan(0, 2), DomainId.Self);
            BitConverter.TryWriteBytes(setup.AsSpan(4, 4), 1u);
            if (Bitness == 64)
                BitConverter.TryWriteBytes(setup.AsSpan(16, 8), list);
            else
                BitConverter.TryWriteBytes(setup.AsSpan(12, 4), (uint)list);
            Runtime.WriteKernelBytes(HvmLayout.Scratch, setup);
            Runtime.WriteKernelBytes(list, new byte[8]);
            rc = Hypercall(HypercallNumber.GrantTableOp, GnttabOpSetupTable, HvmLayout.Scratch, 1);
            short status = (short)(Runtime.ReadKernelByte(HvmLayout.Scratch + 8) | (Runtime.ReadKernelByte(HvmLayout.Scratch + 9) << 8));
            if (rc != 0 || status != 0)
            {
                Printk($"arch_map_gnttab() GNTTABOP_setup_table failed: rc {rc}, status {status}\n");
                return -Eio;
            }

            ulong gfn = 0;
            for (int i = (Bitness / 8) - 1; i >= 0; i--)
                gfn = (gfn << 8) | Runtime.ReadKernelByte(list + (ulong)i);
            const ulong pfAccessed = 1ul << 5, pfDirty = 1ul << 6, pfRw = 1ul << 1, pfPresent = 1ul << 0;
            rc = Runtime.UpdateVaMapping(GnttabRaw, (gfn << 12) | pfAccessed | pfDirty | pfRw | pfPresent, UvmfInvlpg);
        }
        else
        {
            // struct xen_add_to_physmap { domid_t domid; uint16_t size; unsigned int space;
            // xen_ulong_t idx; xen_pfn_t gpfn; }: idx at 8 and gpfn at 16 (both 8 bytes in
            // hvm64, 4 bytes at 8 and 12 in 32-bit guests).
            var xatp = new byte[24];
            BitConverter.TryWriteBytes(xatp.AsSpan(0, 2), DomainId.Self);
            BitConverter.TryWriteBytes(xatp.AsSpan(4, 4), 1u); // XENMAPSPACE_grant_table
            if (Bitness == 64)
                BitConverter.TryWriteBytes(xatp.AsSpan(16, 8), GnttabRaw >> 12);
            else
                BitConverter.TryWriteBytes(xatp.AsSpan(12, 4), (uint)(GnttabRaw >> 12));
            Runtime.WriteKernelBytes(HvmLayout.Scratch, xatp);
            rc = HypercallMemoryOp(7 /* XENMEM_add_to_physmap */, HvmLayout.Scratch);
        }

        if (rc != 0)
        {
            Printk($"arch_map_gnttab() Failed to map gnttab[0]: {rc}\n");
            return -Eio;
        }

        return 0;
    }
}
