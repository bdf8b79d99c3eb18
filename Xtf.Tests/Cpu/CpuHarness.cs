using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// A bare machine in 32-bit flat protected mode for CPU unit tests. The harness sets the initial
/// processor state directly (it tests the CPU, not a guest's boot path):
/// <list type="bullet">
/// <item>GDT at <see cref="GdtBase"/>: null, code DPL0 (0x08), data DPL0 (0x10), code DPL3 (0x1B),
/// data DPL3 (0x23), a 32-bit TSS (0x28), and two small data segments of 4 KiB at
/// <see cref="SmallSegmentBase"/> (DPL0 0x30, DPL3 0x3B) for limit checks.</item>
/// <item>IDT at <see cref="IdtBase"/>: the 32 exception vectors and vector 0x80 are DPL0 interrupt
/// gates, vector <see cref="ExitVector"/> a DPL3 trap gate (user code's way back to ring 0). Each
/// vector's handler is a lone HLT at <see cref="HandlerBase"/> + 16 * vector, so a run stops in the
/// handler with the delivery frame untouched on the stack and the vector known from EIP.</item>
/// <item>TSS: SS0:ESP0 = 0x10:<see cref="Ring0StackTop"/>; by default the I/O map base lies beyond
/// the TSS limit, so there is no I/O permission bitmap (see <see cref="TssLimit"/>).</item>
/// </list>
/// </summary>
internal sealed class CpuHarness
{
    public const uint GdtBase = 0x1000, IdtBase = 0x2000, TssBase = 0x3000, HandlerBase = 0x4000;
    public const uint KernelStackTop = 0x8000, Ring0StackTop = 0x9000, UserStackTop = 0xA000;
    public const uint CodeBase = 0x10000, UserCodeBase = 0x11000, DataBase = 0x20000, SmallSegmentBase = 0x30000;
    public const ushort KernelCode = 0x08, KernelData = 0x10, UserCode = 0x1B, UserData = 0x23, TssSelector = 0x28;
    public const ushort SmallData = 0x30, SmallUserData = 0x3B;
    public const int ExitVector = 0x81;
    public const ushort GdtLimit = (8 * 8) - 1;

    private readonly Dictionary<int, (int Type, int Dpl, bool Present)> gates = [];
    private readonly Dictionary<int, Action<Assembler>> handlers = [];

    public CpuHarness()
    {
        Vm = new VirtualMachine(new MachineOptions { MemoryBytes = 1 << 20 });
        for (int v = 0; v < 32; v++)
            gates[v] = (SystemDescriptorType.InterruptGate32, 0, true);
        gates[0x80] = (SystemDescriptorType.InterruptGate32, 0, true);
        gates[ExitVector] = (SystemDescriptorType.TrapGate32, 3, true);
    }

    public VirtualMachine Vm { get; }

    /// <summary>TSS limit (default 0x67: no room for an I/O permission bitmap at <see cref="IoMapBase"/>).</summary>
    public uint TssLimit { get; set; } = 0x67;

    /// <summary>The TSS's I/O map base (offset 0x66), 0x68 by default.</summary>
    public ushort IoMapBase { get; set; } = 0x68;

    public X86Cpu Cpu => Vm.Cpu;

    /// <summary>Where the last run's code was placed, by label (see <see cref="Run"/>).</summary>
    public AssemblerResult Code { get; private set; }

    /// <summary>The vector whose handler the CPU halted in, or null if it halted elsewhere.</summary>
    public int? Vector
    {
        get
        {
            // HLT retired, so EIP is one past the handler's first byte.
            long offset = (long)Cpu.Rip - 1 - HandlerBase;
            return offset >= 0 && offset < 256 * 16 && offset % 16 == 0 ? (int)(offset / 16) : null;
        }
    }

    /// <summary>Replaces the lone HLT of <paramref name="vector"/>'s handler with custom code (at most 16 bytes).</summary>
    public void SetHandler(int vector, Action<Assembler> emit) => handlers[vector] = emit;

    /// <summary>Makes <paramref name="vector"/> an interrupt or trap gate of the given DPL (before <see cref="Run"/>).</summary>
    public void SetGate(int vector, int type, int dpl, bool present = true) => gates[vector] = (type, dpl, present);

    /// <summary>
    /// Assembles <paramref name="kernel"/> at <see cref="CodeBase"/> (and <paramref name="user"/> at
    /// <see cref="UserCodeBase"/>), enters it at CPL0 with EFLAGS = <paramref name="eflags"/> and runs
    /// until the CPU stops, within <paramref name="budget"/> instructions.
    /// </summary>
    public StopReason Run(Action<Assembler> kernel, Action<Assembler>? user = null, uint eflags = RFlags.Reserved1, long budget = 10_000)
    {
        BuildTables();
        Code = Load(CodeBase, kernel);
        if (user is not null)
            Load(UserCodeBase, user);
        EnterFlatProtectedMode(eflags);
        Cpu.Budget = budget;
        return Cpu.Run();
    }

    /// <summary>Address of a label of the last run's kernel code.</summary>
    public uint AddressOf(Label label) => (uint)Code.GetLabelRIP(label);

    /// <summary>Assembles 32-bit code at <paramref name="address"/> and writes it to memory.</summary>
    public AssemblerResult Load(uint address, Action<Assembler> emit)
    {
        var a = new Assembler(32);
        emit(a);
        using var stream = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(stream), address, BlockEncoderOptions.ReturnNewInstructionOffsets);
        Vm.Memory.Write(address, stream.ToArray());
        return result;
    }

    /// <summary>
    /// Emits the transfer to CPL3: DS and ES get the DPL3 data segment, then IRETD pops
    /// EIP = <see cref="UserCodeBase"/>, CS = 0x1B, <paramref name="eflags"/>, ESP, SS (SDM: IRET to
    /// an outer privilege level).
    /// </summary>
    public static void EnterUser(Assembler a, uint eflags = RFlags.Reserved1, ushort stackSelector = UserData, uint stackPointer = UserStackTop)
    {
        a.mov(ax, UserData);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.push(stackSelector);
        a.push(stackPointer);
        a.push(eflags);
        a.push(UserCode);
        a.push(UserCodeBase);
        a.iretd();
    }

    public uint ReadU32(uint address) => (uint)Cpu.ReadPhysical(address, 4);

    public byte ReadU8(uint address) => (byte)Cpu.ReadPhysical(address, 1);

    public void WriteU32(uint address, uint value) => Vm.Memory.Write(address, BitConverter.GetBytes(value));

    public void WriteBytes(uint address, ReadOnlySpan<byte> bytes) => Vm.Memory.Write(address, bytes);

    /// <summary>The dword at ESP + 4 * <paramref name="index"/>: the delivery frame inside a handler.</summary>
    public uint Frame(int index) => ReadU32(Cpu.Esp + (uint)(4 * index));

    private void WriteDescriptor(uint tableBase, int index, SegmentDescriptor d) =>
        Vm.Memory.Write(tableBase + (uint)(8 * index), BitConverter.GetBytes(d.Raw));

    private static SegmentDescriptor SmallDataSegment(int dpl)
    {
        // Writable data, byte granular, B set, limit 0xFFF, base SmallSegmentBase, accessed.
        var d = SegmentDescriptor.System(0x13, SmallSegmentBase, 0xFFF, dpl);
        return new SegmentDescriptor(d.Raw | (1ul << 54));
    }

    private void BuildTables()
    {
        WriteDescriptor(GdtBase, 1, SegmentDescriptor.Code32(0));
        WriteDescriptor(GdtBase, 2, SegmentDescriptor.Data32(0));
        WriteDescriptor(GdtBase, 3, SegmentDescriptor.Code32(3));
        WriteDescriptor(GdtBase, 4, SegmentDescriptor.Data32(3));
        WriteDescriptor(GdtBase, 5, SegmentDescriptor.System(SystemDescriptorType.Tss32Busy, TssBase, TssLimit));
        WriteDescriptor(GdtBase, 6, SmallDataSegment(0));
        WriteDescriptor(GdtBase, 7, SmallDataSegment(3));

        for (int v = 0; v < 256; v++)
        {
            Vm.Memory.Write(HandlerBase + (uint)(16 * v), [0xF4]); // HLT
            if (handlers.TryGetValue(v, out var emit))
                Load(HandlerBase + (uint)(16 * v), emit);
            var gate = gates.TryGetValue(v, out var g)
                ? SegmentDescriptor.Gate(g.Type, KernelCode, HandlerBase + (uint)(16 * v), g.Dpl, g.Present)
                : new SegmentDescriptor(0);
            WriteDescriptor(IdtBase, v, gate);
        }

        WriteU32(TssBase + 4, Ring0StackTop); // ESP0
        WriteU32(TssBase + 8, KernelData);    // SS0
        Vm.Memory.Write(TssBase + 0x66, BitConverter.GetBytes(IoMapBase));
    }

    private void EnterFlatProtectedMode(uint eflags)
    {
        var cpu = Cpu;
        cpu.Cr0Value = Cr0.PE | Cr0.ET;
        cpu.Gdtr.Base = GdtBase;
        cpu.Gdtr.Limit = GdtLimit;
        cpu.Idtr.Base = IdtBase;
        cpu.Idtr.Limit = (256 * 8) - 1;
        cpu.Segments[X86Cpu.CS].Load(KernelCode, SegmentDescriptor.Code32(0));
        foreach (int seg in (int[])[X86Cpu.ES, X86Cpu.SS, X86Cpu.DS, X86Cpu.FS, X86Cpu.GS])
            cpu.Segments[seg].Load(KernelData, SegmentDescriptor.Data32(0));
        cpu.Tr.Load(TssSelector, SegmentDescriptor.System(SystemDescriptorType.Tss32Busy, TssBase, TssLimit));
        cpu.Ldtr.LoadNull(0);
        cpu.Eflags = eflags | RFlags.Reserved1;
        cpu.Esp = KernelStackTop;
        cpu.Rip = CodeBase;
        cpu.UpdateMode();
    }
}
