using Iced.Intel;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// Fast system calls and the FS/GS bases (SDM vol. 2: SYSCALL, SYSRET, SYSENTER, SYSEXIT, SWAPGS,
/// RDFSBASE/RDGSBASE, WRFSBASE/WRGSBASE; vol. 3, 5.8.7 and 5.8.8). The transfers load CS and SS
/// with fixed flat descriptors computed from an MSR, never from the GDT; the processor is
/// GenuineIntel, so SYSCALL and SYSRET exist only in 64-bit mode.
/// </summary>
internal static class FastSystemCalls
{
    // Descriptor attributes (access byte, then AVL/L/D/G in bits 12-15) of the fixed segments:
    // code type 11 (execute/read, accessed), data type 3 (read/write, accessed), S = 1, P = 1, G = 1.
    private const ushort CodeAccess = 0x9B, DataAccess = 0x93, Granular = 0x8000, Long = 0x2000, Big = 0x4000;

    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Syscall, (X86Cpu c, in Instruction i) => Syscall(c));
        add(Mnemonic.Sysret, (X86Cpu c, in Instruction i) => Sysret(c, i.Code == Code.Sysretq));
        add(Mnemonic.Sysretq, (X86Cpu c, in Instruction i) => Sysret(c, is64: true));
        add(Mnemonic.Sysenter, (X86Cpu c, in Instruction i) => Sysenter(c));
        add(Mnemonic.Sysexit, (X86Cpu c, in Instruction i) => Sysexit(c, i.Code == Code.Sysexitq));
        add(Mnemonic.Sysexitq, (X86Cpu c, in Instruction i) => Sysexit(c, is64: true));
        add(Mnemonic.Swapgs, (X86Cpu c, in Instruction i) => Swapgs(c));
        add(Mnemonic.Rdfsbase, (X86Cpu c, in Instruction i) => ReadBase(c, i, X86Cpu.FS));
        add(Mnemonic.Rdgsbase, (X86Cpu c, in Instruction i) => ReadBase(c, i, X86Cpu.GS));
        add(Mnemonic.Wrfsbase, (X86Cpu c, in Instruction i) => WriteBase(c, i, X86Cpu.FS));
        add(Mnemonic.Wrgsbase, (X86Cpu c, in Instruction i) => WriteBase(c, i, X86Cpu.GS));
    }

    /// <summary>
    /// SYSCALL: #UD outside 64-bit mode or with EFER.SCE clear. RCX = the next RIP, R11 = RFLAGS,
    /// RIP = IA32_LSTAR, RFLAGS &amp;= ~IA32_FMASK (RF cleared too); CS = IA32_STAR[47:32] with RPL 0,
    /// SS = IA32_STAR[47:32] + 8, both flat, CPL 0 and 64-bit code.
    /// </summary>
    private static void Syscall(X86Cpu cpu)
    {
        if (cpu.Bitness != 64 || (cpu.EferValue & Efer.SCE) == 0)
            throw CpuFault.UD();
        if (cpu.Intercepts.FastSystemCall(cpu, Mnemonic.Syscall))
            throw new X86Cpu.InterceptCompleted();
        ulong star = cpu.ReadMsr(X86Cpu.MsrStar);
        ulong target = cpu.ReadMsr(X86Cpu.MsrLstar);
        ulong mask = cpu.ReadMsr(X86Cpu.MsrFmask);

        uint flags = cpu.Eflags & ~RFlags.RF;
        cpu[X86Cpu.RCX] = cpu.NextRip;
        cpu[11] = flags;
        cpu.Eflags = (flags & ~(uint)mask) | RFlags.Reserved1;
        ushort cs = (ushort)((star >> 32) & 0xFFFC);
        LoadFlat(cpu.Segments[X86Cpu.CS], cs, CodeAccess | Long, dpl: 0);
        LoadFlat(cpu.Segments[X86Cpu.SS], (ushort)((star >> 32) + 8), DataAccess | Big, dpl: 0);
        cpu.UpdateMode();
        cpu.NextRip = target;
    }

    /// <summary>
    /// SYSRET: #UD as SYSCALL, then #GP(0) at CPL &gt; 0, then (REX.W, return to 64-bit mode) #GP(0)
    /// for a non-canonical RCX, raised at CPL 0 since nothing has changed yet. RIP = RCX (ECX for a
    /// return to compatibility mode); RFLAGS = R11 with RF, VM and the reserved bits cleared and
    /// bit 1 set; CS = IA32_STAR[63:48] (+ 16 for 64-bit mode) and SS = IA32_STAR[63:48] + 8, RPL 3.
    /// </summary>
    private static void Sysret(X86Cpu cpu, bool is64)
    {
        if (cpu.Bitness != 64 || (cpu.EferValue & Efer.SCE) == 0)
            throw CpuFault.UD();
        SystemInstructions.RequireCpl0(cpu);
        ulong rcx = cpu[X86Cpu.RCX];
        if (is64 && !X86Cpu.IsCanonical(rcx))
            throw CpuFault.GP(0);

        ushort @base = (ushort)(cpu.ReadMsr(X86Cpu.MsrStar) >> 48);
        cpu.Eflags = ((uint)cpu[11] & 0x3C7FD7u) | RFlags.Reserved1;
        ushort cs = (ushort)((is64 ? @base + 16 : @base) | 3);
        LoadFlat(cpu.Segments[X86Cpu.CS], cs, CodeAccess | (is64 ? Long : Big), dpl: 3);
        LoadFlat(cpu.Segments[X86Cpu.SS], (ushort)((@base + 8) | 3), DataAccess | Big, dpl: 3);
        cpu.UpdateMode();
        cpu.NextRip = is64 ? rcx : (uint)rcx;
    }

    /// <summary>
    /// SYSENTER (legacy and IA-32e forms): #GP(0) in real-address mode or when IA32_SYSENTER_CS[15:2]
    /// is 0. VM, IF and RF are cleared; RSP and RIP come from IA32_SYSENTER_ESP/EIP (the low 32 bits
    /// outside IA-32e mode); CS = IA32_SYSENTER_CS with RPL 0 (64-bit code in IA-32e mode, else
    /// 32-bit), SS = CS + 8, both flat, CPL 0.
    /// </summary>
    private static void Sysenter(X86Cpu cpu)
    {
        ulong sysenterCs = cpu.ReadMsr(X86Cpu.MsrSysenterCs);
        if (!cpu.ProtectedMode || (sysenterCs & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        if (cpu.Intercepts.FastSystemCall(cpu, Mnemonic.Sysenter))
            throw new X86Cpu.InterceptCompleted();
        ulong rsp = cpu.ReadMsr(X86Cpu.MsrSysenterEsp);
        ulong rip = cpu.ReadMsr(X86Cpu.MsrSysenterEip);
        bool longMode = cpu.LongMode;

        cpu.Eflags &= ~(RFlags.VM | RFlags.IF | RFlags.RF);
        ushort cs = (ushort)(sysenterCs & 0xFFFC);
        LoadFlat(cpu.Segments[X86Cpu.CS], cs, CodeAccess | (longMode ? Long : Big), dpl: 0);
        LoadFlat(cpu.Segments[X86Cpu.SS], (ushort)(cs + 8), DataAccess | Big, dpl: 0);
        cpu.UpdateMode();
        cpu[X86Cpu.RSP] = longMode ? rsp : (uint)rsp;
        cpu.NextRip = longMode ? rip : (uint)rip;
    }

    /// <summary>
    /// SYSEXIT: #GP(0) when IA32_SYSENTER_CS[15:2] is 0, in real-address mode, or at CPL &gt; 0;
    /// the REX.W form (to 64-bit mode) also when RCX or RDX is not canonical. RSP = RCX and
    /// RIP = RDX (ECX, EDX for the 32-bit form); CS = IA32_SYSENTER_CS + 32 (64-bit) or + 16
    /// (32-bit), SS = CS + 8, RPL 3, both flat, CPL 3. RFLAGS is unchanged.
    /// </summary>
    private static void Sysexit(X86Cpu cpu, bool is64)
    {
        ulong sysenterCs = cpu.ReadMsr(X86Cpu.MsrSysenterCs);
        if ((sysenterCs & 0xFFFC) == 0 || !cpu.ProtectedMode || cpu.Cpl != 0)
            throw CpuFault.GP(0);
        ulong rsp = cpu[X86Cpu.RCX], rip = cpu[X86Cpu.RDX];
        if (is64 && (!X86Cpu.IsCanonical(rsp) || !X86Cpu.IsCanonical(rip)))
            throw CpuFault.GP(0);

        ushort cs = (ushort)(((ushort)sysenterCs + (is64 ? 32 : 16)) | 3);
        LoadFlat(cpu.Segments[X86Cpu.CS], cs, CodeAccess | (is64 ? Long : Big), dpl: 3);
        LoadFlat(cpu.Segments[X86Cpu.SS], (ushort)(cs + 8), DataAccess | Big, dpl: 3);
        cpu.UpdateMode();
        cpu[X86Cpu.RSP] = is64 ? rsp : (uint)rsp;
        cpu.NextRip = is64 ? rip : (uint)rip;
    }

    /// <summary>SWAPGS: #UD outside 64-bit mode, #GP(0) at CPL &gt; 0; exchanges GS.base and IA32_KERNEL_GS_BASE.</summary>
    private static void Swapgs(X86Cpu cpu)
    {
        if (cpu.Bitness != 64)
            throw CpuFault.UD();
        SystemInstructions.RequireCpl0(cpu);
        ulong kernel = cpu.ReadMsr(X86Cpu.MsrKernelGsBase);
        cpu.WriteMsr(X86Cpu.MsrKernelGsBase, cpu.Segments[X86Cpu.GS].Base);
        cpu.Segments[X86Cpu.GS].Base = kernel;
    }

    /// <summary>RDFSBASE/RDGSBASE: #UD outside 64-bit mode or with CR4.FSGSBASE clear; a 32-bit destination takes the low half.</summary>
    private static void ReadBase(X86Cpu cpu, in Instruction i, int seg)
    {
        RequireFsGsBase(cpu);
        cpu.WriteRegister(i.Op0Register, cpu.Segments[seg].Base);
    }

    /// <summary>WRFSBASE/WRGSBASE: #UD as RDFSBASE; a 32-bit source is zero-extended; a non-canonical base is #GP(0).</summary>
    private static void WriteBase(X86Cpu cpu, in Instruction i, int seg)
    {
        RequireFsGsBase(cpu);
        ulong value = cpu.ReadRegister(i.Op0Register);
        if (!X86Cpu.IsCanonical(value))
            throw CpuFault.GP(0);
        cpu.Segments[seg].Base = value;
    }

    private static void RequireFsGsBase(X86Cpu cpu)
    {
        if (cpu.Bitness != 64 || (cpu.Cr4Value & Cr4.FSGSBASE) == 0)
            throw CpuFault.UD();
    }

    /// <summary>A fixed flat segment: base 0, limit 0xFFFFF in 4 KiB units, the given attributes and DPL.</summary>
    private static void LoadFlat(SegmentRegister s, ushort selector, int attributes, int dpl)
    {
        s.Selector = selector;
        s.Base = 0;
        s.Limit = 0xFFFFFFFF;
        s.Attributes = (ushort)(attributes | Granular | (dpl << 5));
        s.Usable = true;
    }
}
