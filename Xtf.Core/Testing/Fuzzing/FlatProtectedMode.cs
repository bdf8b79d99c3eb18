using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;

namespace Xtf.Core.Testing.Fuzzing;

/// <summary>Puts a bare machine's CPU in 32-bit flat protected mode at CPL 0: a GDT at 0x1000 (null, code 0x08, data 0x10), every data segment 0x10, ESP 0x80000.</summary>
internal static class FlatProtectedMode
{
    /// <summary>GDT base of the flat setup.</summary>
    public const ulong GdtBase = 0x1000;

    public static void Enter(VirtualMachine vm, ulong rip, ExecutionTier tier)
    {
        var cpu = vm.Cpu;
        var gdt = new[] { 0ul, SegmentDescriptor.Code32(0).Raw, SegmentDescriptor.Data32(0).Raw };
        for (int i = 0; i < gdt.Length; i++)
            vm.Memory.Write(GdtBase + (ulong)(i * 8), BitConverter.GetBytes(gdt[i]));
        cpu.Gdtr.Base = GdtBase;
        cpu.Gdtr.Limit = 23;
        cpu.Segments[X86Cpu.CS].Load(0x08, SegmentDescriptor.Code32(0));
        foreach (int s in new[] { X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS })
            cpu.Segments[s].Load(0x10, SegmentDescriptor.Data32(0));
        cpu.Cr0Value |= Cr0.PE;
        cpu[X86Cpu.RSP] = 0x80000;
        cpu.Rip = rip;
        cpu.UpdateMode();
        cpu.MaxTier = tier;
    }
}
