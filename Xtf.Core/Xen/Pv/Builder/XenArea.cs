using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Pv.Builder;

/// <summary>
/// The hypervisor's part of a PV vCPU's address space: the read-only M2P (L4 slot 256 for pv64,
/// Xen's compat L2 slots from 0xF5800000 for pv32pae), the per-domain GDT mapping (slot 260: the
/// guest's 14 GDT frames, unused ones a zeroed frame, then Xen's reserved page at selector
/// 0xe000) and Xen's private TSS and stack (slot 262). All of it is supervisor-only except the
/// pv64 M2P, which a ring-3 kernel must read.
/// </summary>
internal sealed class XenArea
{
    public const int GdtPages = PvAbi.FirstReservedGdtPage + 1;

    /// <summary>The TSS descriptor's selector in the reserved page (TSS_ENTRY).</summary>
    public const ushort TssSelector = PvAbi.FirstReservedGdtByte + 0x40;

    private readonly PvDomain d;
    private readonly PhysicalMemory memory;
    private ulong m2pL3, perDomainL3, privateL3, compatM2pL1;
    private List<ulong> m2pFrames = [];
    private int m2pEntrySize;

    private XenArea(PvDomain d)
    {
        this.d = d;
        memory = d.Memory;
    }

    public ulong ZeroFrame { get; private set; }

    public ulong ReservedGdtFrame { get; private set; }

    public ulong TssFrame { get; private set; }

    public static XenArea Build(PvDomain d)
    {
        var x = new XenArea(d);
        x.BuildAll();
        return x;
    }

    private void BuildAll()
    {
        var frames = d.Frames;
        ZeroFrame = frames.Allocate();
        ReservedGdtFrame = frames.Allocate();
        TssFrame = frames.Allocate();
        d.XenStackMfn = frames.Allocate();
        WriteReservedGdt();

        // The TSS: no stacks are used (every ring-0 entry is the hypervisor's), and the I/O
        // bitmap offset lies beyond the limit, so every port access above IOPL faults.
        memory.Write((TssFrame << 12) + 0x66, BitConverter.GetBytes((ushort)0x68));

        // A scratch L4 from which the slots are copied into every top-level table.
        var scratch = frames.Allocate();
        var gdtFrames = Enumerable.Repeat(ZeroFrame, PvAbi.FirstReservedGdtPage).Append(ReservedGdtFrame).ToArray();
        PageTableWriter.Map(memory, frames, scratch, PvAbi.PerDomainVirtStart, gdtFrames, PageTableWriter.Hypervisor, PageTableWriter.Hypervisor);
        PageTableWriter.Map(memory, frames, scratch, PvAbi.XenPrivateVirtStart, [TssFrame, d.XenStackMfn], PageTableWriter.Hypervisor, PageTableWriter.Hypervisor);
        d.XenStackTop = PvAbi.XenPrivateVirtStart + 0x2000;

        ulong machineFrames = memory.FrameCount;
        if (d.Is64BitDomain)
        {
            var m2p = m2pFrames = WriteM2p(machineFrames, m2pEntrySize = 8);
            const ulong userReadOnly = PageWalker.P | PageWalker.A | PageWalker.US;
            PageTableWriter.Map(memory, frames, scratch, PvAbi.HypervisorVirtStart64, m2p, userReadOnly, userReadOnly);
        }
        else
        {
            var m2p = m2pFrames = WriteM2p(machineFrames, m2pEntrySize = 4);
            if (m2p.Count > 512)
                throw new InvalidOperationException("the compat M2P needs more than one L1");
            compatM2pL1 = frames.Allocate();
            for (int i = 0; i < m2p.Count; i++)
                PageTableWriter.Set(memory, compatM2pL1, i, (m2p[i] << 12) | PageTableWriter.HypervisorReadOnly);
        }

        m2pL3 = PageTableWriter.Get(memory, scratch, PvAbi.FirstXenL4Slot);
        perDomainL3 = PageTableWriter.Get(memory, scratch, 260);
        privateL3 = PageTableWriter.Get(memory, scratch, 262);
    }

    /// <summary>The M2P: for each machine frame its pfn (the identity for the guest's), INVALID_M2P_ENTRY (all ones) for the hypervisor's.</summary>
    private List<ulong> WriteM2p(ulong machineFrames, int entrySize)
    {
        var table = new byte[machineFrames * (ulong)entrySize];
        for (ulong mfn = 0; mfn < machineFrames; mfn++)
        {
            ulong value = mfn < d.GuestFrames ? mfn : ulong.MaxValue;
            if (entrySize == 8)
                BitConverter.TryWriteBytes(table.AsSpan((int)(mfn * 8)), value);
            else
                BitConverter.TryWriteBytes(table.AsSpan((int)(mfn * 4)), (uint)value);
        }

        var pages = new List<ulong>();
        for (int offset = 0; offset < table.Length; offset += PhysicalMemory.FrameSize)
        {
            ulong frame = d.Frames.Allocate();
            memory.Write(frame << 12, table.AsSpan(offset, Math.Min(PhysicalMemory.FrameSize, table.Length - offset)));
            pages.Add(frame);
        }

        return pages;
    }

    /// <summary>
    /// Xen's reserved GDT page (boot_gdt / boot_compat_gdt): 0xe008 ring-0 64-bit code, 0xe010
    /// ring-0 data, then the guest's flat segments: pv64 0xe023 ring-3 compat code, 0xe02b ring-3
    /// data, 0xe033 ring-3 64-bit code; pv32pae 0xe019 ring-1 code, 0xe021 ring-1 data, 0xe02b
    /// ring-3 code, 0xe033 ring-3 data; and the TSS at 0xe040.
    /// </summary>
    private void WriteReservedGdt()
    {
        var page = new ulong[512];
        page[1] = SegmentDescriptor.Code64(0).Raw;
        page[2] = SegmentDescriptor.Data32(0).Raw;
        if (d.Is64BitDomain)
        {
            page[4] = SegmentDescriptor.Code32(3).Raw;
            page[5] = SegmentDescriptor.Data32(3).Raw;
            page[6] = SegmentDescriptor.Code64(3).Raw;
        }
        else
        {
            page[3] = SegmentDescriptor.Code32(1).Raw;
            page[4] = SegmentDescriptor.Data32(1).Raw;
            page[5] = SegmentDescriptor.Code32(3).Raw;
            page[6] = SegmentDescriptor.Data32(3).Raw;
        }

        ulong tssBase = PvAbi.XenPrivateVirtStart;
        page[8] = SegmentDescriptor.System(SystemDescriptorType.Tss64Available, tssBase & 0xFFFFFFFF, 0x67).Raw;
        page[9] = tssBase >> 32;
        var bytes = new byte[PhysicalMemory.FrameSize];
        for (int i = 0; i < page.Length; i++)
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), page[i]);
        memory.Write(ReservedGdtFrame << 12, bytes);
    }

    /// <summary>MMU_MACHPHYS_UPDATE: one M2P entry.</summary>
    public void SetM2pEntry(ulong mfn, ulong pfn)
    {
        ulong offset = mfn * (ulong)m2pEntrySize;
        int page = (int)(offset >> 12);
        if (page >= m2pFrames.Count)
            return;
        d.Cpu.WritePhysical((m2pFrames[page] << 12) + (offset & 0xFFF), m2pEntrySize, m2pEntrySize == 8 ? pfn : pfn & 0xFFFFFFFF);
    }

    /// <summary>init_xen_l4_slots: the M2P (pv64), per-domain and private slots of a top-level table.</summary>
    public void InstallL4Slots(ulong l4)
    {
        if (d.Is64BitDomain)
            PageTableWriter.Set(memory, l4, PvAbi.FirstXenL4Slot, m2pL3);
        PageTableWriter.Set(memory, l4, 260, perDomainL3);
        PageTableWriter.Set(memory, l4, 262, privateL3);
    }

    /// <summary>init_xen_pae_l2_slots: the compat M2P in the L2 under L3 slot 3, from 0xF5800000.</summary>
    public void InstallCompatL2Slots(ulong l2)
    {
        PageTableWriter.Set(memory, l2, PvAbi.FirstXenCompatL2Slot, (compatM2pL1 << 12) | PageTableWriter.Hypervisor);
    }

    /// <summary>The vCPU's control state as Xen runs a PV guest: IA-32e paging, the GDT mapping, the TSS.</summary>
    public void LoadCpu(ulong root)
    {
        var cpu = d.Cpu;
        cpu.EferValue = Efer.LME | Efer.LMA | Efer.SCE | Efer.NXE;
        cpu.Cr4Value = Cr4.PAE | Cr4.OSFXSR | Cr4.OSXMMEXCPT;
        cpu.Cr0Value = Cr0.PE | Cr0.MP | Cr0.ET | Cr0.NE | Cr0.WP | Cr0.PG;
        cpu.Gdtr.Base = PvAbi.PerDomainVirtStart;
        cpu.Gdtr.Limit = (GdtPages * 4096) - 1;
        cpu.Idtr.Base = 0;
        cpu.Idtr.Limit = 0;
        cpu.Segments[X86Cpu.CS].Load(PvAbi.HypervisorCs, SegmentDescriptor.Code64(0));
        cpu.UpdateMode();
        d.Vcpu.KernelRoot = root;
        d.LoadCr3();
        var tss = new SegmentDescriptor(PageTableWriter.Get(memory, ReservedGdtFrame, 8));
        cpu.Tr.Load(TssSelector, tss);
        cpu.Tr.Base = PvAbi.XenPrivateVirtStart;
    }
}
