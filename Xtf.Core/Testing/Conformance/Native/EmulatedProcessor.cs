using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// Our CPU on a bare machine (no hypervisor) in 64-bit mode, for the native oracle: 4-level paging
/// with one 2 MiB user, writable page at 0; a GDT with 64-bit code and data at DPL 0 and 3 and a
/// 64-bit TSS (RSP0 = <see cref="KernelStack"/>); an IDT whose vector v is an interrupt gate to a
/// lone HLT at <see cref="HandlerBase"/> + 16 * v (SDM vol. 3, 6.14.1), so a fault is named by where
/// the CPU halted. A snippet runs at <see cref="CodeBase"/> with a budget of its instruction count.
/// The machine is reused: writing the code drops its decoded instructions (DESIGN.md section 7).
/// </summary>
public sealed class EmulatedProcessor
{
    /// <summary>Where the snippet runs, where exception handlers start, and RSP0 of the TSS.</summary>
    public const ulong CodeBase = 0x10000, HandlerBase = 0x8000, KernelStack = 0x7000;
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Gdt = 0x4000, Idt = 0x5000, Tss = 0x6000;
    private const ushort Kernel64 = 0x08, KernelData = 0x10, User64 = 0x1B, UserData = 0x23, TssSelector = 0x28;

    private readonly VirtualMachine vm = new(new MachineOptions { MemoryBytes = 2 << 20 });

    /// <summary>Builds the machine: page tables, GDT, TSS, IDT and handlers.</summary>
    public EmulatedProcessor()
    {
        const ulong table = 0x1 | 0x2 | 0x4 | 0x20, leaf = table | 0x40 | 0x80; // P RW US A (D PS)
        Write(Pml4, Pdpt | table);
        Write(Pdpt, Pd | table);
        Write(Pd, leaf);
        ulong[] gdt = [0, SegmentDescriptor.Code64(0).Raw, SegmentDescriptor.Data32(0).Raw, SegmentDescriptor.Code64(3).Raw,
            SegmentDescriptor.Data32(3).Raw, SegmentDescriptor.System(SystemDescriptorType.Tss64Busy, Tss, 0x67).Raw, 0];
        for (int i = 0; i < gdt.Length; i++)
            Write(Gdt + (ulong)(8 * i), gdt[i]);
        Write(Tss + 4, KernelStack);
        for (int v = 0; v < 256; v++)
        {
            ulong handler = HandlerBase + (ulong)(16 * v);
            vm.Memory.Write(handler, [0xF4]);
            // 64-bit interrupt gate (SDM vol. 3, figure 6-8): offset 15:0, selector, type 0xE, P; offset 31:16.
            ulong low = (handler & 0xFFFF) | ((ulong)Kernel64 << 16) | (0x8Eul << 40) | ((handler >> 16) << 48);
            Write(Idt + (ulong)(16 * v), low);
        }
    }

    /// <summary>Runs <paramref name="snippet"/> at <paramref name="cpl"/>; the end state, or the vector of the exception it raised.</summary>
    public (OracleState? State, string? Fault) Run(OracleSnippet snippet, int cpl, ExecutionTier tier = ExecutionTier.Compiled)
    {
        vm.Memory.Write(CodeBase, [.. snippet.Bytes, 0xF4]);
        var cpu = vm.Cpu;
        cpu.MaxTier = tier;
        cpu.Cr0Value = Cr0.PE | Cr0.ET | Cr0.PG;
        cpu.Cr4Value = Cr4.PAE;
        cpu.Cr3 = Pml4;
        cpu.EferValue = Efer.LME | Efer.LMA;
        cpu.Gdtr.Base = Gdt;
        cpu.Gdtr.Limit = (7 * 8) - 1;
        cpu.Idtr.Base = Idt;
        cpu.Idtr.Limit = (256 * 16) - 1;
        cpu.Tr.Load(TssSelector, SegmentDescriptor.System(SystemDescriptorType.Tss64Busy, Tss, 0x67));
        bool user = cpl == 3;
        cpu.Segments[X86Cpu.CS].Load(user ? User64 : Kernel64, SegmentDescriptor.Code64(cpl));
        foreach (int s in (ReadOnlySpan<int>)[X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS])
            cpu.Segments[s].Load(user ? UserData : KernelData, SegmentDescriptor.Data32(cpl));
        cpu.Eflags = RFlags.Reserved1 | ((uint)snippet.Initial.Rflags & RFlags.Status);
        cpu.UpdateMode();
        for (int r = 0; r < OracleState.Count; r++)
            cpu[r] = snippet.Initial.Gpr[r];
        const ulong stackTop = 0x90000;
        cpu[X86Cpu.RSP] = stackTop;
        cpu.Rip = CodeBase;
        cpu.Budget = snippet.Instructions.Count;

        var stop = cpu.Run();
        ulong end = CodeBase + (ulong)snippet.Bytes.Length;
        if (stop != StopReason.BudgetExhausted || cpu.Rip != end)
        {
            long offset = (long)cpu.Rip - 1 - (long)HandlerBase;
            return (null, stop == StopReason.Halted && offset >= 0 && offset < 256 * 16 && offset % 16 == 0
                ? $"exception vector {offset / 16}"
                : $"stopped ({stop}) at rip {cpu.Rip:x}, not at the snippet's end {end:x}");
        }

        var state = new OracleState { Rflags = cpu.Eflags };
        for (int r = 0; r < OracleState.Count; r++)
            state.Gpr[r] = cpu[r];
        state.Gpr[X86Cpu.RSP] = cpu[X86Cpu.RSP] == stackTop ? 0ul : 1ul;
        return (state, null);
    }

    private void Write(ulong address, ulong value) => vm.Memory.Write(address, BitConverter.GetBytes(value));
}
