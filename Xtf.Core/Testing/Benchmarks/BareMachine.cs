using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Machine;

namespace Xtf.Core.Testing.Benchmarks;

/// <summary>
/// A machine set up for CPU benchmarks: flat 32-bit protected mode at CPL 0 with a GDT (kernel
/// code/data, a 32-bit call gate to kernel code), an IDT, and the code assembled at a fixed
/// address; or, for the paged workloads, 64-bit mode with 4-level paging (an identity map of the
/// low 1 GiB in 4 KiB pages below 32 MiB and 2 MiB pages above), set up directly by the host.
/// </summary>
internal sealed class BareMachine
{
    public const uint GdtBase = 0x1000, IdtBase = 0x2000, CodeBase = 0x10000, DataBase = 0x100000, StackTop = 0x90000;
    public const ushort KernelCode = 0x08, KernelData = 0x10, CallGate = 0x18, KernelCode64 = 0x20;

    /// <summary>Page tables of the 64-bit setup (PML4, PDPT, PD, then 16 page tables), above the data the workloads touch.</summary>
    private const ulong PageTables = 0x1C00000;

    public BareMachine(long budget)
    {
        Vm = new VirtualMachine(new MachineOptions { MemoryBytes = 32ul << 20, InstructionBudget = budget });
    }

    public VirtualMachine Vm { get; }

    public X86Cpu Cpu => Vm.Cpu;

    /// <summary>Assembles 64-bit <paramref name="emit"/> at <see cref="CodeBase"/> and enters it in 64-bit mode with 4-level paging.</summary>
    public void Load64(Action<Assembler> emit)
    {
        Load(_ => { });
        var code = X86Assembly.Assemble(64, CodeBase, emit);
        Vm.Memory.Write(CodeBase, code.Bytes);
        Vm.Memory.Write(GdtBase + KernelCode64, BitConverter.GetBytes(SegmentDescriptor.Flat(0xA, 0, big: false, longMode: true).Raw));
        Cpu.Gdtr.Limit = (ushort)(KernelCode64 + 7);

        const ulong entry = PageWalker.P | PageWalker.RW | PageWalker.A | PageWalker.D;
        ulong pml4 = PageTables, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000, pt = pd + 0x1000;
        Write64(pml4, pdpt | entry);
        Write64(pdpt, pd | entry);
        for (ulong i = 0; i < 512; i++)
        {
            // The first 16 PDEs (32 MiB) point to page tables of 4 KiB pages, the rest map 2 MiB pages.
            ulong pde = i < 16 ? (pt + (i * 0x1000)) | entry : (i << 21) | entry | PageWalker.PS;
            Write64(pd + (i * 8), pde);
        }

        for (ulong i = 0; i < 16 * 512; i++)
            Write64(pt + (i * 8), (i << 12) | entry);

        var cpu = Cpu;
        cpu.Cr3 = pml4;
        cpu.Cr4Value = Cr4.PAE;
        cpu.EferValue = Efer.LME | Efer.LMA;
        cpu.Cr0Value = Cr0.PE | Cr0.PG | Cr0.ET;
        cpu.Segments[X86Cpu.CS].Load(KernelCode64, SegmentDescriptor.Flat(0xA, 0, big: false, longMode: true));
        cpu.UpdateMode();
    }

    private void Write64(ulong address, ulong value) => Vm.Memory.Write(address, BitConverter.GetBytes(value));

    /// <summary>Assembles <paramref name="emit"/> at <see cref="CodeBase"/>; returns label addresses through the callback.</summary>
    public void Load(Action<Assembler> emit, Func<AssembledCode, (ulong GateTarget, ulong Int80Handler)>? targets = null)
    {
        var code = X86Assembly.Assemble(32, CodeBase, emit);
        Vm.Memory.Write(CodeBase, code.Bytes);
        var (gateTarget, handler) = targets?.Invoke(code) ?? (0, 0);

        ulong[] gdt =
        [
            0,
            SegmentDescriptor.Code32(0).Raw,
            SegmentDescriptor.Data32(0).Raw,
            SegmentDescriptor.Gate(SystemDescriptorType.CallGate32, KernelCode, (uint)gateTarget, 0).Raw,
        ];
        for (int i = 0; i < gdt.Length; i++)
            Vm.Memory.Write(GdtBase + (ulong)(i * 8), BitConverter.GetBytes(gdt[i]));
        var gate = SegmentDescriptor.Gate(SystemDescriptorType.InterruptGate32, KernelCode, (uint)handler, 0);
        Vm.Memory.Write(IdtBase + (0x80 * 8), BitConverter.GetBytes(gate.Raw));

        var cpu = Cpu;
        cpu.Gdtr.Base = GdtBase;
        cpu.Gdtr.Limit = (ushort)((gdt.Length * 8) - 1);
        cpu.Idtr.Base = IdtBase;
        cpu.Idtr.Limit = 0x7FF;
        cpu.Segments[X86Cpu.CS].Load(KernelCode, SegmentDescriptor.Code32(0));
        foreach (int s in new[] { X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS })
            cpu.Segments[s].Load(KernelData, SegmentDescriptor.Data32(0));
        cpu.Cr0Value |= Cr0.PE;
        cpu[X86Cpu.RSP] = StackTop;
        cpu.Rip = CodeBase;
        cpu.UpdateMode();
    }
}
