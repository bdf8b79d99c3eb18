using System.Buffers.Binary;
using Xtf.Core.Xen.Pv.Builder;
using Xtf.Core.Xen.Pv.Memory;

namespace Xtf.Core.Xen.Pv.Descriptors;

/// <summary>
/// HYPERVISOR_set_gdt and HYPERVISOR_update_descriptor (xen/arch/x86/pv/descriptor-tables.c).
/// A guest GDT is up to 14 guest frames, each typed PGT_seg_desc_page: no writable mapping of
/// it may exist, and every one of its 512 descriptors passes <see cref="DescriptorCheck"/>
/// (fixups written back). Xen maps the frames into the vCPU's per-domain GDT area (pages 0-13
/// at PERDOMAIN_VIRT_START, unused ones its zero page read-only; page 14 is its own reserved
/// page). GDTR keeps Xen's full limit (load_full_gdt, LAST_RESERVED_GDT_BYTE): entries past
/// the guest's read as the zero page's null descriptors.
/// </summary>
public static class DescriptorTables
{
    /// <summary>
    /// do_set_gdt(frame_list, entries) / compat_set_gdt: entries above FIRST_RESERVED_GDT_ENTRY
    /// is -EINVAL; the ceil(entries / 512) frame numbers (xen_ulong_t native, unsigned int
    /// compat) are copied in (-EFAULT); then pv_set_gdt: each frame must be a valid guest frame
    /// that takes the seg_desc type (-EINVAL, with the types taken so far dropped); the old GDT's
    /// type references are dropped, the new frames mapped; the TLB flushed.
    /// </summary>
    public static long SetGdt(PvDomain d, HypercallArgs a)
    {
        ulong list = a.A1;
        uint entries = (uint)a.A2;
        if (entries > PvAbi.FirstReservedGdtEntry)
            return -XenErrno.EINVAL;
        int count = (int)((entries + 511) / 512);
        int size = d.Is64BitDomain ? 8 : 4;
        var raw = new byte[count * size];
        if (!Hypercalls.GuestHandle.Okay(d, list, (ulong)raw.Length) || !d.Guest.TryRead(list, raw))
            return -XenErrno.EFAULT;
        var frames = new ulong[count];
        for (int i = 0; i < count; i++)
            frames[i] = size == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(i * 8)) : BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i * 4));

        for (int i = 0; i < count; i++)
        {
            if (GetSegDesc(d, frames[i]) != 0)
            {
                while (i-- > 0)
                    d.Mmu.PutPageType(frames[i]);
                return -XenErrno.EINVAL;
            }
        }

        foreach (ulong old in d.Vcpu.GdtFrames)
            d.Mmu.PutPageType(old);
        d.Vcpu.GdtFrames = frames;
        d.Vcpu.GdtEntries = (int)entries;
        ulong l1 = GdtL1(d);
        for (int page = 0; page < PvAbi.FirstReservedGdtPage; page++)
        {
            ulong entry = page < count
                ? (frames[page] << 12) | PageTableWriter.Hypervisor
                : (d.Xen.ZeroFrame << 12) | PageTableWriter.HypervisorReadOnly;
            d.Cpu.WritePhysical((l1 << 12) + ((ulong)page * 8), 8, entry);
        }

        d.Mmu.FlushTlb();
        return 0;
    }

    /// <summary>
    /// do_update_descriptor(gaddr, desc) / compat_update_descriptor(pa_lo, pa_hi, desc_lo,
    /// desc_hi): the address must be 8-byte aligned and the descriptor pass check_descriptor,
    /// the frame must be the guest's and take a type: seg_desc if it is one now (so a GDT or LDT
    /// in use is updated in place), else writable (so never a page table); otherwise -EINVAL.
    /// The checked (fixed-up) descriptor is written.
    /// </summary>
    public static long UpdateDescriptor(PvDomain d, HypercallArgs a)
    {
        ulong address, descriptor;
        if (d.Is64BitDomain)
        {
            address = a.A1;
            descriptor = a.A2;
        }
        else
        {
            address = (a.A1 & 0xFFFFFFFF) | (a.A2 << 32);
            descriptor = (a.A3 & 0xFFFFFFFF) | (a.A4 << 32);
        }

        bool compat = !d.Is64BitDomain;
        if ((address & 7) != 0 || !DescriptorCheck.Check(ref descriptor, compat))
            return -XenErrno.EINVAL;
        ulong mfn = address >> 12;
        var frames = d.Mmu.Frames;
        if (!frames.IsGuests(mfn))
            return -XenErrno.EINVAL;
        var type = frames.Type(mfn) == PageType.SegDesc ? PageType.SegDesc : PageType.Writable;
        if (d.Mmu.GetPageType(mfn, type) != 0)
            return -XenErrno.EINVAL;
        d.Cpu.WritePhysical(address, 8, descriptor);
        d.Mmu.PutPageType(mfn);
        return 0;
    }

    /// <summary>get_page_and_type(PGT_seg_desc_page): a guest frame whose every descriptor passes (validate_segdesc_page).</summary>
    private static int GetSegDesc(PvDomain d, ulong mfn) =>
        d.Mmu.Frames.IsGuests(mfn)
            ? d.Mmu.GetPageType(mfn, PageType.SegDesc, validateSegDesc: m => ValidatePage(d, m))
            : -XenErrno.EINVAL;

    private static int ValidatePage(PvDomain d, ulong mfn)
    {
        bool compat = !d.Is64BitDomain;
        for (int i = 0; i < 512; i++)
        {
            ulong at = (mfn << 12) + ((ulong)i * 8);
            ulong descriptor = d.Cpu.ReadPhysical(at, 8);
            ulong original = descriptor;
            if (!DescriptorCheck.Check(ref descriptor, compat))
                return -XenErrno.EINVAL;
            if (descriptor != original)
                d.Cpu.WritePhysical(at, 8, descriptor);
        }

        return 0;
    }

    /// <summary>pv_gdt_ptes: the L1 of the per-domain area (L4 slot 260) whose entries 0-14 map the GDT, reached through the live root.</summary>
    private static ulong GdtL1(PvDomain d)
    {
        ulong table = d.Cpu.Cr3 >> 12;
        ulong va = PvAbi.PerDomainVirtStart;
        for (int shift = 39; shift > 12; shift -= 9)
            table = (d.Cpu.ReadPhysical((table << 12) + (((va >> shift) & 511) * 8), 8) & 0x000FFFFFFFFFF000) >> 12;
        return table;
    }
}
