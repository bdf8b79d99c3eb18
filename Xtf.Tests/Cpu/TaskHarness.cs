using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>A 32-bit TSS image (SDM vol. 3, figure 7-2) to place in memory; CS 0x08, SS/DS/ES/FS/GS 0x10 unless set.</summary>
internal sealed class TssImage
{
    public uint Eip, Esp, Eflags = RFlags.Reserved1, BackLink, IoMapBase = 0x68;

    /// <summary>SS0:ESP0, the ring-0 stack for interrupts from outer levels and virtual-8086 mode.</summary>
    public uint Esp0 = CpuHarness.Ring0StackTop, Ss0 = CpuHarness.KernelData;
    public uint[] Gprs = new uint[8];
    public ushort Es = CpuHarness.KernelData, Cs = CpuHarness.KernelCode, Ss = CpuHarness.KernelData;
    public ushort Ds = CpuHarness.KernelData, Fs = CpuHarness.KernelData, Gs = CpuHarness.KernelData, Ldt;
    public bool Trap;

    public void Write(CpuHarness h, uint tssBase)
    {
        Gprs[X86Cpu.RSP] = Esp;
        var b = new byte[0x68];
        void Put(int offset, uint value) => BitConverter.TryWriteBytes(b.AsSpan(offset), value);
        Put(0x00, BackLink);
        Put(0x04, Esp0);
        Put(0x08, Ss0);
        Put(0x20, Eip);
        Put(0x24, Eflags);
        for (int i = 0; i < 8; i++)
            Put(0x28 + (4 * i), Gprs[i]);
        ushort[] selectors = [Es, Cs, Ss, Ds, Fs, Gs];
        for (int i = 0; i < 6; i++)
            Put(0x48 + (4 * i), selectors[i]);
        Put(0x60, Ldt);
        Put(0x64, (Trap ? 1u : 0) | (IoMapBase << 16));
        h.WriteBytes(tssBase, b);
    }
}

/// <summary>
/// <see cref="CpuHarness"/> plus the system objects that task-switch and virtual-8086 tests need.
/// The kernel code starts with LGDT of a larger GDT (the harness entries 1-7 plus the ones below)
/// and writes any patched IDT entries (task gates, gates to other selectors), then runs the test's code.
/// <list type="bullet">
/// <item>0x40: TSS "B", 32-bit, available, at <see cref="TssB"/>; its code runs at <see cref="TaskBCode"/>.</item>
/// <item>0x48, 0x50, 0x58, 0x60: handler TSSs for #TS, #NP, #SS and #GP/#DF, each with its own
/// stack and a HLT at <see cref="HandlerTaskCode"/> + 16 * n (n = 0..3).</item>
/// <item>0x68: an LDT (present) at <see cref="LdtBase"/> whose entry 0 is flat DPL0 data (selector 0x04);
/// 0x70: an LDT descriptor that is not present; 0x78: DPL0 data, not present; 0x80: DPL0 code, not
/// present; 0x88: DPL0 execute-only code; 0x90: a 16-bit TSS (available, limit 0x2B) at <see cref="Tss16Base"/>.</item>
/// </list>
/// </summary>
internal sealed class TaskHarness
{
    public const uint TssB = 0x6000, Tss16Base = 0x6500, LdtBase = 0x6800, TaskBCode = 0x6A00, HandlerTaskCode = 0x6C00;
    public const uint TaskBStackTop = 0xC000, PseudoDescriptor = 0x5800;
    public const ushort TaskB = 0x40, TsTask = 0x48, NpTask = 0x50, SsTask = 0x58, GpTask = 0x60;
    public const ushort Ldt = 0x68, LdtNotPresent = 0x70, DataNotPresent = 0x78, CodeNotPresent = 0x80, ExecuteOnly = 0x88, Task16 = 0x90;
    public const int Entries = 19;

    public static readonly ushort[] HandlerTasks = [TsTask, NpTask, SsTask, GpTask];

    private readonly Dictionary<int, ulong> gdt = [];
    private readonly Dictionary<int, ulong> idt = [];

    public TaskHarness()
    {
        Set(TaskB, SegmentDescriptor.System(SystemDescriptorType.Tss32Available, TssB, 0x67));
        for (int n = 0; n < HandlerTasks.Length; n++)
        {
            uint tssBase = 0x6100 + (uint)(0x100 * n);
            Set(HandlerTasks[n], SegmentDescriptor.System(SystemDescriptorType.Tss32Available, tssBase, 0x67));
            new TssImage { Eip = HandlerTaskCode + (uint)(16 * n), Esp = 0xD000 + (uint)(0x400 * n) }.Write(H, tssBase);
            H.WriteBytes(HandlerTaskCode + (uint)(16 * n), [0xF4]);
        }

        Set(Ldt, SegmentDescriptor.System(SystemDescriptorType.Ldt, LdtBase, 0xF));
        Set(LdtNotPresent, new SegmentDescriptor(SegmentDescriptor.System(SystemDescriptorType.Ldt, LdtBase, 0xF).Raw & ~(1ul << 47)));
        Set(DataNotPresent, new SegmentDescriptor(SegmentDescriptor.Data32(0).Raw & ~(1ul << 47)));
        Set(CodeNotPresent, new SegmentDescriptor(SegmentDescriptor.Code32(0).Raw & ~(1ul << 47)));
        Set(ExecuteOnly, SegmentDescriptor.Flat(0x8, 0, big: true));
        Set(Task16, SegmentDescriptor.System(SystemDescriptorType.Tss16Available, Tss16Base, 0x2B));
        H.WriteBytes(LdtBase, BitConverter.GetBytes(SegmentDescriptor.Data32(0).Raw));
        B = new TssImage { Eip = TaskBCode, Esp = TaskBStackTop };
    }

    public CpuHarness H { get; } = new();

    public X86Cpu Cpu => H.Cpu;

    /// <summary>The state task B starts with (written at <see cref="Run"/>).</summary>
    public TssImage B { get; }

    /// <summary>Sets (or replaces) a GDT entry by selector.</summary>
    public void Set(ushort selector, SegmentDescriptor d) => gdt[selector >> 3] = d.Raw;

    /// <summary>Makes <paramref name="vector"/> a task gate to <paramref name="tss"/>.</summary>
    public void TaskGate(int vector, ushort tss, int dpl = 0, bool present = true) =>
        idt[vector] = ((ulong)tss << 16) | ((ulong)((present ? 0x80 : 0) | (dpl << 5) | SystemDescriptorType.TaskGate) << 40);

    /// <summary>Routes #TS, #NP, #SS and #GP through task gates to the handler tasks, so a fault with unusable segments still lands.</summary>
    public void FaultsToHandlerTasks()
    {
        TaskGate((int)X86Vector.TS, TsTask);
        TaskGate((int)X86Vector.NP, NpTask);
        TaskGate((int)X86Vector.SS, SsTask);
        TaskGate((int)X86Vector.GP, GpTask);
    }

    /// <summary>Makes <paramref name="vector"/> a 32-bit interrupt or trap gate to any selector:offset.</summary>
    public void Gate(int vector, int type, ushort selector, uint offset, int dpl) =>
        idt[vector] = SegmentDescriptor.Gate(type, selector, offset, dpl).Raw;

    /// <summary>Places code for task B (32-bit) at <see cref="TaskBCode"/>.</summary>
    public void TaskCode(Action<Assembler> emit) => H.Load(TaskBCode, emit);

    public StopReason Run(Action<Assembler> kernel, uint eflags = RFlags.Reserved1, long budget = 10_000)
    {
        foreach (var (index, raw) in gdt)
            H.WriteBytes(CpuHarness.GdtBase + (uint)(8 * index), BitConverter.GetBytes(raw));
        B.Write(H, TssB);
        var pseudo = new byte[6];
        BitConverter.TryWriteBytes(pseudo.AsSpan(0), (ushort)((Entries * 8) - 1));
        BitConverter.TryWriteBytes(pseudo.AsSpan(2), CpuHarness.GdtBase);
        H.WriteBytes(PseudoDescriptor, pseudo);
        return H.Run(
            a =>
            {
                a.lgdt(__[PseudoDescriptor]);
                foreach (var (vector, raw) in idt)
                {
                    a.mov(__dword_ptr[CpuHarness.IdtBase + (uint)(8 * vector)], (uint)raw);
                    a.mov(__dword_ptr[CpuHarness.IdtBase + (uint)(8 * vector) + 4], (uint)(raw >> 32));
                }

                kernel(a);
            },
            eflags: eflags,
            budget: budget);
    }

    public uint ReadU32(uint address) => H.ReadU32(address);

    public ushort ReadU16(uint address) => (ushort)H.Cpu.ReadPhysical(address, 2);

    /// <summary>The type field (access byte bits 0-3) of a GDT descriptor, as it is in memory now.</summary>
    public int DescriptorType(ushort selector) => H.ReadU8(CpuHarness.GdtBase + (uint)(selector & 0xFFF8) + 5) & 0xF;

    /// <summary>The TSS base of a handler task.</summary>
    public static uint HandlerTssBase(ushort selector) => 0x6100 + (uint)(0x100 * Array.IndexOf(HandlerTasks, selector));

    /// <summary>The initial stack top of a handler task.</summary>
    public static uint HandlerStackTop(ushort selector) => 0xD000 + (uint)(0x400 * Array.IndexOf(HandlerTasks, selector));
}
