using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Machine;

namespace Xtf.Core.Testing.Benchmarks;

/// <summary>
/// A machine set up for CPU benchmarks: flat 32-bit protected mode at CPL 0 with a GDT (kernel
/// code/data, a 32-bit call gate to kernel code), an IDT, and the code assembled at a fixed address.
/// </summary>
internal sealed class BareMachine
{
    public const uint GdtBase = 0x1000, IdtBase = 0x2000, CodeBase = 0x10000, DataBase = 0x100000, StackTop = 0x90000;
    public const ushort KernelCode = 0x08, KernelData = 0x10, CallGate = 0x18;

    public BareMachine(long budget)
    {
        Vm = new VirtualMachine(new MachineOptions { MemoryBytes = 32ul << 20, InstructionBudget = budget });
    }

    public VirtualMachine Vm { get; }

    public X86Cpu Cpu => Vm.Cpu;

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
