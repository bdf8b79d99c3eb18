using System.Buffers.Binary;
using System.Text;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Toolstack;

/// <summary>
/// libxl's HVM build for a <c>firmware_override</c> image with no device model: the PT_LOAD
/// segments at their physical addresses, then, on the PVH path, <c>struct hvm_start_info</c>
/// (public/arch-x86/hvm/start_info.h) with the command line after them; the vCPU as
/// docs/misc/pvh.pandoc fixes it.
/// </summary>
public static class HvmBuilder
{
    /// <summary>XEN_HVM_START_MAGIC_VALUE.</summary>
    public const uint StartInfoMagic = 0x336ec578;

    /// <summary>Loads <paramref name="elf"/> into <paramref name="machine"/> and sets the vCPU up to enter it: through XEN_ELFNOTE_PHYS32_ENTRY with EBX = hvm_start_info when <paramref name="pvh"/> (libxl's default today), else at e_entry with EBX = 0 (the firmware path). Throws <see cref="DomainBuildException"/> for an image libxl would refuse.</summary>
    public static void Build(VirtualMachine machine, ElfImage elf, XenElfNotes notes, string cmdline, bool pvh)
    {
        // The top two frames are the xenstore and console pages (DomainState.CreateHvm).
        ulong ramEnd = (machine.Memory.FrameCount - 2) * PhysicalMemory.FrameSize;
        var image = ImageLoader.Load(machine.Memory, elf, 0, ramEnd, "guest RAM below the special pages");

        ulong entry;
        uint ebx = 0;
        if (pvh)
        {
            if (notes.Phys32Entry is not { } phys32)
                throw new DomainBuildException("no XEN_ELFNOTE_PHYS32_ENTRY: the image cannot be started as a PVH guest (use the firmware entry)");
            // libelf elf_xen_addr_calc_check_pvh: the entry must lie in the image.
            if (!image.Contains(phys32))
                throw new DomainBuildException($"the PVH entry point 0x{phys32:x} lies outside the image [0x{image.Start:x}, 0x{image.End:x})");
            entry = phys32;
            ulong at = (image.End + 0xFFF) & ~0xFFFul;
            if (at + PhysicalMemory.FrameSize > ramEnd)
                throw new DomainBuildException("no room after the image for hvm_start_info");
            ebx = (uint)at;
            WriteStartInfo(machine.Memory, at, cmdline);
        }
        else
        {
            entry = elf.Entry;
        }

        if (entry >= ramEnd)
            throw new DomainBuildException($"the entry point 0x{entry:x} lies outside guest RAM");
        EnterProtectedMode(machine.Cpu, entry, ebx);
    }

    /// <summary>hvm_start_info version 1: magic, version, flags 0, no modules, the command line's physical address (0 if none), no RSDP, no memory map.</summary>
    private static void WriteStartInfo(PhysicalMemory memory, ulong at, string cmdline)
    {
        const int cmdlineAt = 64;
        var page = new byte[PhysicalMemory.FrameSize];
        BinaryPrimitives.WriteUInt32LittleEndian(page, StartInfoMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(4), 1);
        if (cmdline.Length != 0)
        {
            var bytes = Encoding.ASCII.GetBytes(cmdline);
            bytes.AsSpan(0, Math.Min(bytes.Length, PhysicalMemory.FrameSize - cmdlineAt - 1)).CopyTo(page.AsSpan(cmdlineAt));
            BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(24), at + cmdlineAt);
        }

        memory.Write(at, page);
    }

    /// <summary>
    /// docs/misc/pvh.pandoc: 32-bit protected mode, paging off; CS a flat 32-bit execute/read
    /// code segment, DS, ES, SS flat read/write data (selectors unspecified: libxl uses 0x10 and
    /// 0x18), TR a 32-bit busy TSS of limit 0x67; EFLAGS bit 1 only, CR0 PE|ET, CR4 0.
    /// </summary>
    private static void EnterProtectedMode(X86Cpu cpu, ulong entry, uint ebx)
    {
        cpu.Segments[X86Cpu.CS].Load(0x10, SegmentDescriptor.Code32(0));
        foreach (int seg in new[] { X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS })
            cpu.Segments[seg].Load(0x18, SegmentDescriptor.Data32(0));
        cpu.Cr0Value = Cr0.PE | Cr0.ET;
        cpu.Tr.Base = 0;
        cpu.Tr.Limit = 0x67;
        cpu.Eflags = RFlags.Reserved1;
        cpu.Ebx = ebx;
        cpu.Rip = entry;
        cpu.UpdateMode();
    }
}
