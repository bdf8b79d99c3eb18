using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// A bare machine that enters IA-32e mode with real instructions, for CPU unit tests of long mode.
/// The run starts as <see cref="CpuHarness"/> does, in flat 32-bit protected mode at CPL 0 (state
/// set directly, GDTR included), at <see cref="BootBase"/>; the boot code then sets CR4.PAE, loads
/// CR3 with a 4-level identity map of the low 1 GiB (2 MiB pages, writable, user at every level
/// except the 2 MiB page at 2 MiB, which is supervisor-only), sets EFER.LME and EFER.SCE by WRMSR, sets CR0.PG and far-jumps to the 64-bit code
/// segment; in 64-bit mode it loads GDTR and IDTR (64-bit bases), TR (16-byte descriptor), SS and
/// RSP = <see cref="KernelStackTop"/>, then RFLAGS, and jumps to the test body at <see cref="CodeBase"/>.
/// <list type="bullet">
/// <item>GDT (32 entries, entries from 12 on are the test's): 0x08 64-bit code DPL0, 0x10 data DPL0,
/// 0x1B 32-bit code DPL3, 0x23 data DPL3, 0x2B 64-bit code DPL3, 0x33 data DPL3, 0x38 32-bit code
/// DPL0, 0x40 the 64-bit TSS (16 bytes), 0x51 64-bit code DPL1, 0x59 data DPL1. The user selectors
/// follow the SYSRET/SYSEXIT layouts: STAR[63:48] = 0x18 and IA32_SYSENTER_CS = 0x08 both give
/// 0x1B/0x23 (compatibility mode) and 0x2B/0x33 or 0x2B/0x23 (64-bit mode).</item>
/// <item>IDT: 256 16-byte gates, all 64-bit interrupt gates of DPL 0 to CS 0x08 except
/// <see cref="ExitVector"/> (a DPL3 trap gate); each handler is a lone HLT at
/// <see cref="HandlerBase"/> + 16 * vector, so a run stops in the handler with the frame intact.</item>
/// <item>64-bit TSS: RSP0-2 = <see cref="Rsp0Top"/>, <see cref="Rsp1Top"/>, <see cref="Rsp2Top"/>;
/// ISTn = <see cref="IstTop"/>(n).</item>
/// </list>
/// </summary>
internal sealed class LongModeHarness
{
    public const uint PseudoDescriptors = 0x800, GdtBase = 0x1000, IdtBase = 0x2000, TssBase = 0x3000, HandlerBase = 0x4000;
    public const uint Pml4Base = 0x5000, PdptBase = 0x6000, PdBase = 0x7000;
    public const uint KernelStackTop = 0x9000, Rsp0Top = 0xA000, Rsp1Top = 0xB000, Rsp2Top = 0xC000, UserStackTop = 0xE000;
    public const uint BootBase = 0xF000, LongEntry = 0xF100, CodeBase = 0x10000, UserCodeBase = 0x11000, TargetCode = 0x12000;
    public const uint DataBase = 0x20000;

    /// <summary>A stack top in the second 2 MiB page, the only supervisor-only page of the map.</summary>
    public const uint SupervisorStackTop = 0x201000;
    public const ushort Kernel64 = 0x08, KernelData = 0x10, User32 = 0x1B, UserData = 0x23, User64 = 0x2B, UserData2 = 0x33;
    public const ushort Kernel32 = 0x38, TssSelector = 0x40, Ring1Code = 0x51, Ring1Data = 0x59;
    public const int ExitVector = 0x81, GdtEntries = 32;
    public const ushort GdtLimit = (GdtEntries * 8) - 1, IdtLimit = (256 * 16) - 1;

    private readonly Dictionary<int, Gate> gates = [];
    private readonly Dictionary<int, Action<Assembler>> handlers = [];
    private readonly Dictionary<int, (ulong Low, ulong High)> descriptors = [];

    public LongModeHarness()
    {
        Vm = new VirtualMachine(new MachineOptions { MemoryBytes = 4 << 20 });
        for (int v = 0; v < 256; v++)
            gates[v] = new Gate(SystemDescriptorType.InterruptGate64, 0);
        gates[ExitVector] = new Gate(SystemDescriptorType.TrapGate64, 3);
    }

    public VirtualMachine Vm { get; }

    public X86Cpu Cpu => Vm.Cpu;

    /// <summary>Limit of the 64-bit TSS (default 0x67: RSP0-2, IST1-7 and the I/O map base).</summary>
    public uint TssLimit { get; set; } = 0x67;

    /// <summary>RSP0 of the TSS (default <see cref="Rsp0Top"/>).</summary>
    public ulong Rsp0 { get; set; } = Rsp0Top;

    /// <summary>
    /// Added to the addresses of the GDT, IDT and TSS: 0x200000 moves them to the supervisor-only
    /// page, for tests of implicit supervisor accesses under SMAP.
    /// </summary>
    public uint TablesOffset { get; set; }

    /// <summary>Limit loaded into IDTR by the boot code.</summary>
    public ushort IdtrLimit { get; set; } = IdtLimit;

    public AssemblerResult Code { get; private set; }

    /// <summary>IST1-IST7 as written to the TSS (index 0 unused); <see cref="IstTop"/>(n) by default.</summary>
    public ulong[] Ist { get; } = [0, IstTop(1), IstTop(2), IstTop(3), IstTop(4), IstTop(5), IstTop(6), IstTop(7)];

    /// <summary>Top of the IST<paramref name="n"/> stack (n = 1..7): 0x200 bytes each, from 0xC200 up.</summary>
    public static ulong IstTop(int n) => 0xC000 + (0x200ul * (ulong)n);

    /// <summary>The vector whose handler the CPU halted in, or null if it halted elsewhere.</summary>
    public int? Vector
    {
        get
        {
            long offset = (long)Cpu.Rip - 1 - HandlerBase;
            return offset >= 0 && offset < 256 * 16 && offset % 16 == 0 ? (int)(offset / 16) : null;
        }
    }

    /// <summary>One IDT entry: type, DPL, present, IST, and optionally another selector or offset.</summary>
    public sealed record Gate(int Type, int Dpl, bool Present = true, int Ist = 0, ushort Selector = Kernel64, ulong? Offset = null);

    public void SetGate(int vector, Gate gate) => gates[vector] = gate;

    public Gate GetGate(int vector) => gates[vector];

    /// <summary>Replaces the HLT of <paramref name="vector"/>'s handler with 64-bit code (at most 16 bytes).</summary>
    public void SetHandler(int vector, Action<Assembler> emit) => handlers[vector] = emit;

    /// <summary>Sets GDT entry <paramref name="index"/> (8 bytes).</summary>
    public void SetDescriptor(int index, ulong raw) => descriptors[index] = (raw, 0);

    /// <summary>Sets GDT entries <paramref name="index"/> and <paramref name="index"/> + 1 to a 16-byte system descriptor.</summary>
    public void SetDescriptor16(int index, ulong low, ulong high)
    {
        descriptors[index] = (low, 0);
        descriptors[index + 1] = (high, 0);
    }

    /// <summary>A 16-byte 64-bit gate (IDT gate or call gate, SDM vol. 3, figures 5-8 and 6-8): low and high quadwords.</summary>
    public static (ulong Low, ulong High) Gate64(int type, ushort selector, ulong offset, int dpl, int ist = 0, bool present = true)
    {
        ulong low = (offset & 0xFFFF) | ((ulong)selector << 16) | ((ulong)(ist & 7) << 32);
        low |= (ulong)(type | (dpl << 5) | (present ? 0x80 : 0)) << 40;
        low |= ((offset >> 16) & 0xFFFF) << 48;
        return (low, offset >> 32);
    }

    /// <summary>A 16-byte TSS or LDT descriptor (SDM vol. 3, figure 7-4).</summary>
    public static (ulong Low, ulong High) System64(int type, ulong @base, uint limit, int dpl = 0) =>
        (SegmentDescriptor.System(type, @base & 0xFFFFFFFF, limit, dpl).Raw, @base >> 32);

    /// <summary>
    /// Runs the boot code, then <paramref name="kernel"/> (64-bit, at <see cref="CodeBase"/>) at CPL 0
    /// with RFLAGS = <paramref name="rflags"/>; <paramref name="user"/> is assembled at
    /// <see cref="UserCodeBase"/> for <paramref name="userBitness"/>-bit code.
    /// </summary>
    public StopReason Run(Action<Assembler> kernel, Action<Assembler>? user = null, int userBitness = 64,
        uint rflags = RFlags.Reserved1, long budget = 10_000)
    {
        BuildTables();
        Load(BootBase, 32, Boot);
        Load(LongEntry, 64, a => LongModeEntry(a, rflags));
        Code = Load(CodeBase, 64, kernel);
        if (user is not null)
            Load(UserCodeBase, userBitness, user);
        StartFlat32();
        Cpu.Budget = budget;
        return Cpu.Run();
    }

    /// <summary>Runs and expects the CPU to halt (in a handler or in the test's own HLT).</summary>
    public void RunToHalt(Action<Assembler> kernel, Action<Assembler>? user = null, int userBitness = 64, uint rflags = RFlags.Reserved1)
    {
        var stop = Run(kernel, user, userBitness, rflags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted), "the run ends in a HLT");
    }

    public uint AddressOf(Label label) => (uint)Code.GetLabelRIP(label);

    /// <summary>Assembles <paramref name="bitness"/>-bit code at <paramref name="address"/> and writes it to memory.</summary>
    public AssemblerResult Load(uint address, int bitness, Action<Assembler> emit)
    {
        var a = new Assembler(bitness);
        emit(a);
        using var stream = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(stream), address, BlockEncoderOptions.ReturnNewInstructionOffsets);
        Vm.Memory.Write(address, stream.ToArray());
        return result;
    }

    /// <summary>
    /// Emits the transfer to CPL 3 by IRETQ: the frame RIP = <paramref name="rip"/>, CS =
    /// <paramref name="cs"/>, RFLAGS, RSP, SS (SDM: IRET, IA-32e mode, outer privilege level).
    /// </summary>
    public static void EnterUser(Assembler a, ushort cs = User64, ushort ss = UserData, uint rsp = UserStackTop,
        uint rflags = RFlags.Reserved1, uint rip = UserCodeBase)
    {
        // PUSH imm32 in 64-bit mode pushes the sign-extended immediate as 8 bytes.
        a.push((int)ss);
        a.push((int)rsp);
        a.push((int)rflags);
        a.push((int)cs);
        a.push((int)rip);
        a.iretq();
    }

    /// <summary>Emits WRMSR of <paramref name="value"/> to <paramref name="msr"/> (clobbers EAX, ECX, EDX).</summary>
    public static void WriteMsr(Assembler a, uint msr, ulong value)
    {
        a.mov(ecx, msr);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    public ulong ReadU64(ulong address) => Cpu.ReadPhysical(address, 8);

    public void WriteU64(ulong address, ulong value) => Vm.Memory.Write(address, BitConverter.GetBytes(value));

    public void WriteU32(ulong address, uint value) => Vm.Memory.Write(address, BitConverter.GetBytes(value));

    public void WriteU16(ulong address, ushort value) => Vm.Memory.Write(address, BitConverter.GetBytes(value));

    /// <summary>The quadword at RSP + 8 * <paramref name="index"/>: the delivery frame inside a handler.</summary>
    public ulong Frame(int index) => ReadU64(Cpu[X86Cpu.RSP] + (ulong)(8 * index));

    /// <summary>Asserts that the CPU halted in <paramref name="vector"/>'s handler with an error code.</summary>
    public void AssertFault(X86Vector vector, ulong errorCode)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Vector, Is.EqualTo((int)vector), "vector");
            Assert.That(Frame(0), Is.EqualTo(errorCode), "error code");
        });
    }

    private void Boot(Assembler a)
    {
        // SDM vol. 3, 9.8.5: PAE, CR3, EFER.LME, then CR0.PG activates IA-32e mode; the far jump
        // loads a 64-bit CS.
        a.mov(eax, cr4);
        a.or(eax, (uint)Cr4.PAE);
        a.mov(cr4, eax);
        a.mov(eax, Pml4Base);
        a.mov(cr3, eax);
        a.mov(ecx, X86Cpu.MsrEfer);
        a.rdmsr();
        a.or(eax, (uint)(Efer.LME | Efer.SCE));
        a.wrmsr();
        a.mov(eax, cr0);
        a.or(eax, unchecked((int)(uint)Cr0.PG));
        a.mov(cr0, eax);
        a.jmp(Kernel64, LongEntry);
    }

    private static void LongModeEntry(Assembler a, uint rflags)
    {
        a.lgdt(__[PseudoDescriptors]);
        a.lidt(__[PseudoDescriptors + 16]);
        a.mov(ax, TssSelector);
        a.ltr(ax);
        a.mov(ax, KernelData);
        a.mov(ss, ax);
        a.mov(rsp, KernelStackTop);
        a.push((int)rflags);
        a.popfq();
        a.jmp((ulong)CodeBase);
    }

    private void BuildTables()
    {
        // Page tables: PML4[0] -> PDPT, PDPT[0] -> PD, 512 PDEs of 2 MiB (SDM vol. 3, 4.5).
        const ulong present = 1, writable = 2, user = 4, large = 0x80;
        WriteU64(Pml4Base, PdptBase | present | writable | user);
        WriteU64(PdptBase, PdBase | present | writable | user);
        for (uint i = 0; i < 512; i++)
            WriteU64(PdBase + (8 * i), ((ulong)i << 21) | present | writable | (i == 1 ? 0 : user) | large);

        // Pseudo-descriptors for LGDT/LIDT in 64-bit mode: 2-byte limit, 8-byte base.
        WriteU16(PseudoDescriptors, GdtLimit);
        WriteU64(PseudoDescriptors + 2, GdtBase + TablesOffset);
        WriteU16(PseudoDescriptors + 16, IdtrLimit);
        WriteU64(PseudoDescriptors + 18, IdtBase + TablesOffset);

        var gdt = new Dictionary<int, (ulong Low, ulong High)>
        {
            [1] = (SegmentDescriptor.Code64(0).Raw, 0),
            [2] = (SegmentDescriptor.Data32(0).Raw, 0),
            [3] = (SegmentDescriptor.Code32(3).Raw, 0),
            [4] = (SegmentDescriptor.Data32(3).Raw, 0),
            [5] = (SegmentDescriptor.Code64(3).Raw, 0),
            [6] = (SegmentDescriptor.Data32(3).Raw, 0),
            [7] = (SegmentDescriptor.Code32(0).Raw, 0),
            [10] = (SegmentDescriptor.Code64(1).Raw, 0),
            [11] = (SegmentDescriptor.Data32(1).Raw, 0),
        };
        uint gdtBase = GdtBase + TablesOffset, idtBase = IdtBase + TablesOffset, tssBase = TssBase + TablesOffset;
        var tss = System64(SystemDescriptorType.Tss64Available, tssBase, TssLimit);
        gdt[8] = (tss.Low, 0);
        gdt[9] = (tss.High, 0);
        foreach (var (index, d) in descriptors)
            gdt[index] = d;
        foreach (var (index, d) in gdt)
            WriteU64(gdtBase + (8u * (uint)index), d.Low);

        WriteU64(tssBase + 0x04, Rsp0);
        WriteU64(tssBase + 0x0C, Rsp1Top);
        WriteU64(tssBase + 0x14, Rsp2Top);
        for (int n = 1; n <= 7; n++)
            WriteU64(tssBase + 0x1C + (8u * (uint)n), Ist[n]);
        WriteU16(tssBase + 0x66, 0x68);

        for (int v = 0; v < 256; v++)
        {
            uint handler = HandlerBase + (uint)(16 * v);
            Vm.Memory.Write(handler, [0xF4]); // HLT
            if (handlers.TryGetValue(v, out var emit))
                Load(handler, 64, emit);
            var g = gates[v];
            var (low, high) = Gate64(g.Type, g.Selector, g.Offset ?? handler, g.Dpl, g.Ist, g.Present);
            WriteU64(idtBase + (16u * (uint)v), low);
            WriteU64(idtBase + (16u * (uint)v) + 8, high);
        }
    }

    private void StartFlat32()
    {
        var cpu = Cpu;
        cpu.Cr0Value = Cr0.PE | Cr0.ET;
        cpu.Gdtr.Base = GdtBase + TablesOffset;
        cpu.Gdtr.Limit = GdtLimit;
        cpu.Segments[X86Cpu.CS].Load(Kernel32, SegmentDescriptor.Code32(0));
        foreach (int seg in (int[])[X86Cpu.ES, X86Cpu.SS, X86Cpu.DS, X86Cpu.FS, X86Cpu.GS])
            cpu.Segments[seg].Load(KernelData, SegmentDescriptor.Data32(0));
        cpu.Ldtr.LoadNull(0);
        cpu.Eflags = RFlags.Reserved1;
        cpu.Esp = KernelStackTop;
        cpu.Rip = BootBase;
        cpu.UpdateMode();
    }
}
