using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Machine;

namespace Xtf.Core.Testing.Fuzzing;

/// <summary>The processor modes a bare-CPU fuzz case starts in (SDM vol. 3, 2.2 and 4.1.1).</summary>
internal enum FuzzCpuMode
{
    /// <summary>Real-address mode (CR0.PE = 0).</summary>
    Real,

    /// <summary>Virtual-8086 mode (EFLAGS.VM = 1 in 32-bit protected mode), CPL 3.</summary>
    Virtual8086,

    /// <summary>Protected mode with a 16-bit code segment, paging off.</summary>
    Protected16,

    /// <summary>Protected mode with a 32-bit code segment, paging off.</summary>
    Protected32,

    /// <summary>32-bit paging with 4 MiB pages (CR4.PSE).</summary>
    Paged32,

    /// <summary>PAE paging with 2 MiB pages.</summary>
    Pae,

    /// <summary>IA-32e mode, 64-bit code segment, 4-level paging.</summary>
    Long64,

    /// <summary>IA-32e mode, 32-bit (compatibility mode) code segment.</summary>
    Compatibility,
}

/// <summary>
/// A bare machine (no hypervisor: every exit is the architecture's) in a random state of one of
/// the <see cref="FuzzCpuMode"/>s at CPL 0 or 3, with the tables each mode needs written directly,
/// the way a domain builder does. Layout of its 4 MiB:
/// <list type="bullet">
/// <item>0x0 real-mode IVT; 0xE00 pseudo-descriptors for LGDT/LIDT (random); 0x1000 GDT (32
/// entries: the fixed selectors below, entries 13 on random descriptors and gates); 0x2000 IDT
/// (256 gates, 16 bytes each in IA-32e mode); 0x3000 TSS; 0x4000-0x8FFF page tables; 0xF000 HLT.</item>
/// <item><see cref="CodeBase"/>: the case's code, <see cref="CodeSize"/> bytes; gates, SYSENTER,
/// SYSCALL and call gates point into it or at the HLT; 0x20000: a random table LGDT/LIDT may load.</item>
/// <item>Kernel stack below 0x80000 (TSS ESP0/RSP0 and the ISTs), user stack below 0x90000;
/// the whole 4 MiB identity-mapped user, writable, in every paging mode.</item>
/// </list>
/// </summary>
internal static class FuzzMachine
{
    public const ulong CodeBase = 0x10000, CodeSize = 0x1000, Halt = 0xF000, RandomTable = 0x20000, PseudoDescriptors = 0xE00;
    public const ulong GdtBase = 0x1000, IdtBase = 0x2000, TssBase = 0x3000, MemoryBytes = 4ul << 20;
    public const ulong KernelStack = 0x80000, UserStack = 0x90000;
    public const ushort Code32 = 0x08, Data32 = 0x10, UserCode32 = 0x1B, UserData32 = 0x23, Code64 = 0x28, UserCode64 = 0x33;
    public const ushort Code16 = 0x38, Data16 = 0x40, UserCode16 = 0x4B, UserData16 = 0x53, TssSelector = 0x58;
    private const int GdtEntries = 32, FirstRandomEntry = 13;
    private const ulong Pd32 = 0x4000, PaePdpt = 0x5000, Pd = 0x6000, Pml4 = 0x7000, Pdpt64 = 0x8000;
    private const ulong Leaf = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80; // P, RW, US, A, D, PS
    private const ulong Table = 0x1 | 0x2 | 0x4 | 0x20;              // P, RW, US, A

    /// <summary>Builds a machine in <paramref name="mode"/> at <paramref name="cpl"/> (ignored in real and virtual-8086 mode) with random registers, flags, control bits, gates and tables from <paramref name="rng"/>.</summary>
    public static VirtualMachine Create(Random rng, FuzzCpuMode mode, int cpl, long budget)
    {
        var vm = new VirtualMachine(new MachineOptions { MemoryBytes = MemoryBytes, InstructionBudget = budget });
        var cpu = vm.Cpu;
        bool ia32e = mode is FuzzCpuMode.Long64 or FuzzCpuMode.Compatibility;
        if (mode is FuzzCpuMode.Real or FuzzCpuMode.Virtual8086)
            cpl = mode == FuzzCpuMode.Real ? 0 : 3;

        vm.Memory.Write(Halt, [0xF4]);
        WriteIvt(vm, rng);
        WriteGdt(vm, rng, ia32e);
        WriteIdt(vm, rng, ia32e);
        WriteTss(vm, ia32e);
        WritePageTables(vm);
        var random = new byte[0x1000];
        rng.NextBytes(random);
        vm.Memory.Write(RandomTable, random);
        for (int i = 0; i < 8; i++)
        {
            // limit:base pairs: the random table, the GDT itself, or anything at all.
            ulong @base = rng.Next(3) switch { 0 => RandomTable, 1 => GdtBase, _ => (ulong)rng.NextInt64() };
            ushort limit = (ushort)(rng.Next(2) == 0 ? rng.Next(0x1000) : rng.Next(0x10000));
            vm.Memory.Write(PseudoDescriptors + (ulong)(i * 16), [.. BitConverter.GetBytes(limit), .. BitConverter.GetBytes(@base)]);
        }

        cpu.Gdtr.Base = GdtBase;
        cpu.Gdtr.Limit = (GdtEntries * 8) - 1;
        cpu.Idtr.Base = mode == FuzzCpuMode.Real ? 0 : IdtBase;
        cpu.Idtr.Limit = (ushort)(mode == FuzzCpuMode.Real ? 0x3FF : ia32e ? 0xFFF : 0x7FF);
        var tss = ia32e
            ? SegmentDescriptor.System(SystemDescriptorType.Tss64Busy, TssBase, 0x67)
            : SegmentDescriptor.System(SystemDescriptorType.Tss32Busy, TssBase, 0x67);
        cpu.Tr.Load(TssSelector, tss);

        ulong cr0 = Cr0.ET | Pick(rng, Cr0.MP, Cr0.EM, Cr0.TS, Cr0.NE, Cr0.WP, Cr0.AM);
        ulong cr4 = Pick(rng, Cr4.VME, Cr4.PVI, Cr4.TSD, Cr4.DE, Cr4.PGE, Cr4.PCE, Cr4.OSFXSR, Cr4.OSXMMEXCPT, Cr4.UMIP, Cr4.FSGSBASE, Cr4.SMEP, Cr4.SMAP);
        if (mode != FuzzCpuMode.Real)
            cr0 |= Cr0.PE;
        switch (mode)
        {
            case FuzzCpuMode.Paged32:
                cr0 |= Cr0.PG;
                cr4 |= Cr4.PSE;
                cpu.Cr3 = Pd32;
                break;
            case FuzzCpuMode.Pae:
                cr0 |= Cr0.PG;
                cr4 |= Cr4.PAE;
                cpu.Cr3 = PaePdpt;
                cpu.Pdpte[0] = Pd | 0x1; // the PDPTE registers MOV CR3 would have loaded (SDM vol. 3, 4.4.1)
                cpu.EferValue = rng.Next(2) == 0 ? Efer.NXE : 0;
                break;
            case FuzzCpuMode.Long64 or FuzzCpuMode.Compatibility:
                cr0 |= Cr0.PG;
                cr4 |= Cr4.PAE;
                cpu.Cr3 = Pml4;
                cpu.EferValue = Efer.LME | Efer.LMA | Pick(rng, Efer.SCE, Efer.NXE);
                break;
            default:
                // SMEP and SMAP act on paging only, and VME on virtual-8086 mode; keep the state plausible.
                break;
        }

        cpu.Cr0Value = cr0;
        cpu.Cr4Value = cr4;
        LoadSegments(cpu, mode, cpl);
        cpu.Rip = mode is FuzzCpuMode.Real or FuzzCpuMode.Virtual8086 ? 0 : CodeBase;

        // RFLAGS: random arithmetic flags, TF, DF, AC, NT and IOPL; VM for virtual-8086 mode.
        uint flags = 0x2 | ((uint)rng.Next() & (0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800 | 0x3000));
        if (rng.Next(8) == 0)
            flags |= 0x100;     // TF
        if (rng.Next(4) == 0)
            flags |= 0x4000;    // NT
        if (rng.Next(4) == 0)
            flags |= 0x40000;   // AC
        if (mode == FuzzCpuMode.Virtual8086)
            flags |= 0x20000;   // VM
        cpu.Eflags = flags;
        cpu.UpdateMode();

        for (int r = 0; r < (mode == FuzzCpuMode.Long64 ? 16 : 8); r++)
        {
            if (r != X86Cpu.RSP)
                cpu[r] = RandomRegister(rng, mode == FuzzCpuMode.Long64);
        }

        WriteSystemCallMsrs(cpu, rng, ia32e);
        return vm;
    }

    /// <summary>A register value: small, an address in RAM, or anything (32-bit outside 64-bit mode).</summary>
    public static ulong RandomRegister(Random rng, bool wide)
    {
        ulong v = rng.Next(4) switch
        {
            0 => (ulong)rng.Next(256),
            1 => (ulong)rng.NextInt64((long)MemoryBytes),
            2 => CodeBase + (ulong)rng.Next((int)CodeSize),
            _ => (ulong)rng.NextInt64() ^ ((ulong)rng.Next(2) << 63),
        };
        return wide ? v : (uint)v;
    }

    private static void LoadSegments(X86Cpu cpu, FuzzCpuMode mode, int cpl)
    {
        switch (mode)
        {
            case FuzzCpuMode.Real:
                cpu.Segments[X86Cpu.CS].LoadReal((ushort)(CodeBase >> 4));
                foreach (int s in new[] { X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS })
                    cpu.Segments[s].LoadReal(0x7000);
                cpu[X86Cpu.RSP] = 0xFFFE;
                return;
            case FuzzCpuMode.Virtual8086:
                foreach (int s in new[] { X86Cpu.CS, X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS })
                    cpu.Segments[s].LoadVirtual8086(s == X86Cpu.CS ? (ushort)(CodeBase >> 4) : (ushort)0x8000);
                cpu[X86Cpu.RSP] = 0xFFFE;
                return;
        }

        bool user = cpl == 3;
        (ushort code, SegmentDescriptor codeD, ushort data, SegmentDescriptor dataD) = mode switch
        {
            FuzzCpuMode.Protected16 => user
                ? (UserCode16, Code16Descriptor(3), UserData16, Data16Descriptor(3))
                : (Code16, Code16Descriptor(0), Data16, Data16Descriptor(0)),
            FuzzCpuMode.Long64 => user
                ? (UserCode64, SegmentDescriptor.Code64(3), UserData32, SegmentDescriptor.Data32(3))
                : (Code64, SegmentDescriptor.Code64(0), Data32, SegmentDescriptor.Data32(0)),
            _ => user
                ? (UserCode32, SegmentDescriptor.Code32(3), UserData32, SegmentDescriptor.Data32(3))
                : (Code32, SegmentDescriptor.Code32(0), Data32, SegmentDescriptor.Data32(0)),
        };
        cpu.Segments[X86Cpu.CS].Load(code, codeD);
        foreach (int s in new[] { X86Cpu.DS, X86Cpu.ES, X86Cpu.SS, X86Cpu.FS, X86Cpu.GS })
            cpu.Segments[s].Load(data, dataD);
        cpu[X86Cpu.RSP] = mode == FuzzCpuMode.Protected16 ? 0xFFF0 : user ? UserStack : KernelStack;
    }

    private static SegmentDescriptor Code16Descriptor(int dpl) => SegmentDescriptor.CodeOrData(0xB, 0, 0xFFFF, dpl, big: false);

    private static SegmentDescriptor Data16Descriptor(int dpl) => SegmentDescriptor.CodeOrData(0x3, 0, 0xFFFF, dpl, big: false);

    private static void WriteGdt(VirtualMachine vm, Random rng, bool ia32e)
    {
        var gdt = new ulong[GdtEntries];
        gdt[1] = SegmentDescriptor.Code32(0).Raw;
        gdt[2] = SegmentDescriptor.Data32(0).Raw;
        gdt[3] = SegmentDescriptor.Code32(3).Raw;
        gdt[4] = SegmentDescriptor.Data32(3).Raw;
        gdt[5] = SegmentDescriptor.Code64(0).Raw;
        gdt[6] = SegmentDescriptor.Code64(3).Raw;
        gdt[7] = Code16Descriptor(0).Raw;
        gdt[8] = Data16Descriptor(0).Raw;
        gdt[9] = Code16Descriptor(3).Raw;
        gdt[10] = Data16Descriptor(3).Raw;
        gdt[11] = SegmentDescriptor.System(ia32e ? SystemDescriptorType.Tss64Busy : SystemDescriptorType.Tss32Busy, TssBase, 0x67).Raw;
        gdt[12] = 0; // the upper half of a 64-bit TSS descriptor (base bits 63:32)
        for (int i = FirstRandomEntry; i < GdtEntries; i++)
        {
            gdt[i] = rng.Next(4) switch
            {
                // A gate into the code, of any type and DPL, to any of the fixed code selectors.
                0 => SegmentDescriptor.Gate(rng.Next(16), (ushort)((rng.Next(1, 12) << 3) | rng.Next(4)), (uint)(CodeBase + (ulong)rng.Next((int)CodeSize)), rng.Next(4), rng.Next(8) != 0, rng.Next(32)).Raw,
                // A code, data or system segment with a random base, limit and attributes.
                1 => SegmentDescriptor.CodeOrData(rng.Next(16), (ulong)rng.Next((int)MemoryBytes), (uint)rng.Next(0x100000), rng.Next(4), rng.Next(2) == 0, rng.Next(2) == 0, rng.Next(8) != 0).Raw
                    | ((ulong)rng.Next(2) << 53),
                2 => SegmentDescriptor.System(rng.Next(16), TssBase, 0x67, rng.Next(4)).Raw,
                _ => (ulong)rng.NextInt64() ^ ((ulong)rng.Next(2) << 63),
            };
        }

        for (int i = 0; i < GdtEntries; i++)
            vm.Memory.Write(GdtBase + (ulong)(i * 8), BitConverter.GetBytes(gdt[i]));
    }

    /// <summary>Every vector's handler is the HLT or random code, through a gate of random type (mostly interrupt or trap), DPL and IST.</summary>
    private static void WriteIdt(VirtualMachine vm, Random rng, bool ia32e)
    {
        for (int v = 0; v < 256; v++)
        {
            ulong target = rng.Next(2) == 0 ? Halt : CodeBase + (ulong)rng.Next((int)CodeSize);
            int type = rng.Next(8) switch
            {
                0 => rng.Next(16),
                < 5 => SystemDescriptorType.InterruptGate32,
                _ => SystemDescriptorType.TrapGate32,
            };
            int dpl = rng.Next(2) == 0 ? 0 : 3;
            ushort selector = ia32e ? Code64 : rng.Next(4) == 0 ? Code16 : Code32;
            var gate = SegmentDescriptor.Gate(type, selector, (uint)target, dpl, rng.Next(32) != 0).Raw;
            if (ia32e)
            {
                gate |= (ulong)(rng.Next(4) == 0 ? rng.Next(8) : 0) << 32; // IST
                vm.Memory.Write(IdtBase + (ulong)(v * 16), [.. BitConverter.GetBytes(gate), .. new byte[8]]);
            }
            else
            {
                vm.Memory.Write(IdtBase + (ulong)(v * 8), BitConverter.GetBytes(gate));
            }
        }
    }

    private static void WriteIvt(VirtualMachine vm, Random rng)
    {
        for (int v = 0; v < 256; v++)
        {
            (ushort segment, ushort offset) = rng.Next(2) == 0 ? ((ushort)(Halt >> 4), (ushort)0) : ((ushort)(CodeBase >> 4), (ushort)rng.Next((int)CodeSize));
            vm.Memory.Write((ulong)(v * 4), [.. BitConverter.GetBytes(offset), .. BitConverter.GetBytes(segment)]);
        }
    }

    /// <summary>32-bit TSS: ESP0 at 4, SS0 at 8 (SDM vol. 3, figure 8-2); 64-bit TSS: RSP0 at 4, IST1-7 from 0x24 (figure 8-11). The I/O map base (0x66) is past the limit: no port is permitted by the bitmap.</summary>
    private static void WriteTss(VirtualMachine vm, bool ia32e)
    {
        var tss = new byte[0x68];
        if (ia32e)
        {
            BitConverter.TryWriteBytes(tss.AsSpan(4), KernelStack);
            for (int n = 1; n <= 7; n++)
                BitConverter.TryWriteBytes(tss.AsSpan(0x24 + ((n - 1) * 8)), KernelStack - ((ulong)n * 0x1000));
        }
        else
        {
            BitConverter.TryWriteBytes(tss.AsSpan(4), (uint)KernelStack);
            BitConverter.TryWriteBytes(tss.AsSpan(8), (uint)Data32);
        }

        BitConverter.TryWriteBytes(tss.AsSpan(0x66), (ushort)0x68);
        vm.Memory.Write(TssBase, tss);
    }

    /// <summary>An identity map of the 4 MiB, user and writable, for 32-bit paging (one 4 MiB PDE), PAE and 4-level paging (two 2 MiB PDEs shared by both).</summary>
    private static void WritePageTables(VirtualMachine vm)
    {
        void Write64(ulong address, ulong value) => vm.Memory.Write(address, BitConverter.GetBytes(value));
        vm.Memory.Write(Pd32, BitConverter.GetBytes((uint)Leaf));
        Write64(PaePdpt, Pd | 0x1); // PAE PDPTEs: P only, bits 2:1 are reserved (SDM vol. 3, 4.4.1)
        Write64(Pd, 0 | Leaf);
        Write64(Pd + 8, (2ul << 20) | Leaf);
        Write64(Pml4, Pdpt64 | Table);
        Write64(Pdpt64, Pd | Table);
    }

    /// <summary>SYSENTER and SYSCALL into the code with the fixed selectors (SDM vol. 2, SYSENTER/SYSEXIT, SYSCALL/SYSRET: CS, CS+8, CS+16, CS+24, CS+32 from the MSR).</summary>
    private static void WriteSystemCallMsrs(X86Cpu cpu, Random rng, bool ia32e)
    {
        ulong Entry() => CodeBase + (ulong)rng.Next((int)CodeSize);
        cpu.WriteMsr(X86Cpu.MsrSysenterCs, rng.Next(8) == 0 ? 0 : (ulong)(ia32e && rng.Next(2) == 0 ? Code64 : Code32));
        cpu.WriteMsr(X86Cpu.MsrSysenterEsp, KernelStack);
        cpu.WriteMsr(X86Cpu.MsrSysenterEip, Entry());
        // STAR[47:32]: SYSCALL CS (SS = CS + 8); STAR[63:48]: SYSRET's base (0x18: CS 0x1B / SS 0x23, 64-bit CS 0x2B).
        cpu.WriteMsr(X86Cpu.MsrStar, ((ulong)0x18 << 48) | ((ulong)Code32 << 32) | (uint)Entry());
        if (ia32e)
        {
            cpu.WriteMsr(X86Cpu.MsrLstar, Entry());
            cpu.WriteMsr(X86Cpu.MsrCstar, Entry());
            cpu.WriteMsr(X86Cpu.MsrFmask, (ulong)rng.Next(0x40000));
        }
    }

    private static ulong Pick(Random rng, params ulong[] bits)
    {
        ulong v = 0;
        foreach (ulong b in bits)
        {
            if (rng.Next(4) == 0)
                v |= b;
        }

        return v;
    }
}
