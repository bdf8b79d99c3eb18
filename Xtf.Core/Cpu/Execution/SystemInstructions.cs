using Iced.Intel;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// System instructions (SDM vol. 3, 2.8): descriptor-table registers, control and debug
/// registers, MSRs, CPUID, HLT, TSC, cache and TLB control, VMCALL.
/// </summary>
internal static class SystemInstructions
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Lgdt, (X86Cpu c, in Instruction i) => LoadTableRegister(c, i, c.Gdtr));
        add(Mnemonic.Lidt, (X86Cpu c, in Instruction i) => LoadTableRegister(c, i, c.Idtr));
        add(Mnemonic.Sgdt, (X86Cpu c, in Instruction i) => StoreTableRegister(c, i, c.Gdtr));
        add(Mnemonic.Sidt, (X86Cpu c, in Instruction i) => StoreTableRegister(c, i, c.Idtr));
        add(Mnemonic.Ltr, Ltr);
        add(Mnemonic.Lldt, Lldt);
        add(Mnemonic.Str, (X86Cpu c, in Instruction i) => StoreSystemSelector(c, i, c.Tr.Selector));
        add(Mnemonic.Sldt, (X86Cpu c, in Instruction i) => StoreSystemSelector(c, i, c.Ldtr.Selector));
        add(Mnemonic.Smsw, Smsw);
        add(Mnemonic.Lmsw, Lmsw);
        add(Mnemonic.Clts, (X86Cpu c, in Instruction i) => { RequireCpl0(c); c.Cr0Value &= ~Cr0.TS; });
        add(Mnemonic.Hlt, Hlt);
        add(Mnemonic.Cpuid, Cpuid);
        add(Mnemonic.Rdmsr, Rdmsr);
        add(Mnemonic.Wrmsr, Wrmsr);
        add(Mnemonic.Rdtsc, Rdtsc);
        add(Mnemonic.Rdpmc, Rdpmc);
        FastSystemCalls.Install(add);
        add(Mnemonic.Invd, (X86Cpu c, in Instruction i) => RequireCpl0(c));
        add(Mnemonic.Wbinvd, (X86Cpu c, in Instruction i) => RequireCpl0(c));
        add(Mnemonic.Invlpg, (X86Cpu c, in Instruction i) =>
        {
            RequireCpl0(c);
            c.InvalidatePage(c.UncheckedLinear(X86Cpu.MemorySegment(i), c.EffectiveAddress(i)));
        });
        add(Mnemonic.Vmcall, Vmcall);
        add(Mnemonic.Vmmcall, Vmcall);
    }

    /// <summary>Privileged instructions raise #GP(0) at CPL &gt; 0 (SDM vol. 3, 5.9), including virtual-8086 mode.</summary>
    internal static void RequireCpl0(X86Cpu cpu)
    {
        if (cpu.Cpl > 0)
            throw CpuFault.GP(0);
    }

    /// <summary>
    /// UMIP (SDM vol. 3, 2.5, CR4.UMIP): with CR4.UMIP set, SGDT, SIDT, SLDT, SMSW and STR are
    /// #GP(0) at CPL &gt; 0, which includes virtual-8086 mode (CPL 3; SDM vol. 2, SGDT and SMSW,
    /// virtual-8086 mode exceptions). Real-address mode runs at CPL 0 and is unaffected.
    /// </summary>
    private static void CheckUmip(X86Cpu cpu)
    {
        if ((cpu.Cr4Value & Cr4.UMIP) != 0 && cpu.Cpl > 0)
            throw CpuFault.GP(0);
    }

    /// <summary>LGDT/LIDT m16&amp;32: limit then base; with a 16-bit operand only 24 base bits are used.</summary>
    private static void LoadTableRegister(X86Cpu cpu, in Instruction i, DescriptorTableRegister reg)
    {
        RequireCpl0(cpu);
        if (i.Op0Kind != OpKind.Memory)
            throw CpuFault.UD();
        int seg = X86Cpu.MemorySegment(i);
        ulong ea = cpu.EffectiveAddress(i);
        int baseSize = cpu.Bitness == 64 ? 8 : 4;
        ushort limit = (ushort)cpu.ReadLogical(seg, ea, 2);
        ulong @base = cpu.ReadLogical(seg, (ea + 2) & X86Cpu.SizeMask(cpu.AddressSize(i)), baseSize);
        if (cpu.Bitness != 64 && i.CodeSize == CodeSize.Code16 && i.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16)
            @base &= 0xFFFFFF;
        reg.Limit = limit;
        reg.Base = @base;
    }

    /// <summary>
    /// SGDT/SIDT m: a register operand is #UD, which comes before the #GP(0) of UMIP (SDM vol. 3,
    /// table 6-2); then limit, then base (4 bytes, 8 in 64-bit mode).
    /// </summary>
    private static void StoreTableRegister(X86Cpu cpu, in Instruction i, DescriptorTableRegister reg)
    {
        if (i.Op0Kind != OpKind.Memory)
            throw CpuFault.UD();
        CheckUmip(cpu);
        int seg = X86Cpu.MemorySegment(i);
        ulong ea = cpu.EffectiveAddress(i);
        int baseSize = cpu.Bitness == 64 ? 8 : 4;
        cpu.WriteLogical(seg, ea, 2, reg.Limit);
        cpu.WriteLogical(seg, (ea + 2) & X86Cpu.SizeMask(cpu.AddressSize(i)), baseSize, reg.Base);
    }

    /// <summary>
    /// STR/SLDT (SDM: SLDT, STR): not recognised in real-address and virtual-8086 mode (#UD); at
    /// CPL &gt; 0 with CR4.UMIP set, #GP(0); then the store.
    /// </summary>
    private static void StoreSystemSelector(X86Cpu cpu, in Instruction i, ushort value)
    {
        if (!cpu.ProtectedMode || cpu.Virtual8086)
            throw CpuFault.UD();
        StoreSelector(cpu, i, value);
    }

    /// <summary>STR/SLDT: 16 bits to memory, zero-extended to a register destination.</summary>
    private static void StoreSelector(X86Cpu cpu, in Instruction i, ushort value)
    {
        CheckUmip(cpu);
        int size = i.Op0Kind == OpKind.Memory ? 2 : X86Cpu.OperandSize(i, 0);
        cpu.WriteOperand(i, 0, size, value);
    }

    /// <summary>
    /// SMSW (SDM vol. 2, SMSW): after the UMIP check, a memory destination takes CR0[15:0] whatever
    /// the operand size; a register takes CR0 to the operand size (r16: CR0[15:0]; r32: CR0[31:0],
    /// which the SDM defines in 64-bit mode and leaves undefined above bit 15 elsewhere, where this
    /// CPU stores CR0[31:0] too, as Xen's x86_emulate does; r64: CR0[63:0]).
    /// </summary>
    private static void Smsw(X86Cpu cpu, in Instruction i)
    {
        CheckUmip(cpu);
        if (i.Op0Kind == OpKind.Memory)
            cpu.WriteOperand(i, 0, 2, (ushort)cpu.Cr0Value);
        else
            cpu.WriteOperand(i, 0, X86Cpu.OperandSize(i, 0), cpu.Cr0Value);
    }

    /// <summary>
    /// LTR (SDM: LTR): a GDT selector of an available TSS; the descriptor is marked busy. In IA-32e
    /// mode the descriptor is 16 bytes and only the 64-bit TSS (type 9) will do (<see cref="SystemBase"/>).
    /// </summary>
    private static void Ltr(X86Cpu cpu, in Instruction i)
    {
        if (!cpu.ProtectedMode || cpu.Virtual8086)
            throw CpuFault.UD();
        RequireCpl0(cpu);
        ushort selector = (ushort)cpu.ReadOperand(i, 0, 2);
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        uint error = CpuFault.SelectorError(selector);
        if ((selector & 4) != 0)
            throw CpuFault.GP(error);
        var d = cpu.ReadDescriptor(selector);
        ulong high = cpu.LongMode ? cpu.ReadDescriptorHigh(selector) : 0;
        bool available = cpu.LongMode
            ? d.Type == SystemDescriptorType.Tss64Available
            : d.Type is SystemDescriptorType.Tss16Available or SystemDescriptorType.Tss32Available;
        if (!d.IsSystem || !available)
            throw CpuFault.GP(error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        ulong @base = SystemBase(cpu, d, high, error);
        cpu.SetTssBusy(selector, busy: true);
        cpu.Tr.Load(selector, new SegmentDescriptor(d.Raw | (2ul << 40)));
        cpu.Tr.Base = @base;
    }

    /// <summary>
    /// Base of an LDT or TSS descriptor. In IA-32e mode bytes 8-11 of the 16-byte descriptor hold
    /// base[63:32], which must make a canonical address, and the type field of the upper half
    /// (bits 8-12 of dword 3) must be 0 (AMD APM vol. 2, 4.8.3); else #GP(selector).
    /// </summary>
    private static ulong SystemBase(X86Cpu cpu, SegmentDescriptor d, ulong high, uint error)
    {
        if (!cpu.LongMode)
            return d.Base;
        ulong @base = d.Base | ((high & 0xFFFFFFFF) << 32);
        if (!X86Cpu.IsCanonical(@base) || ((high >> 40) & 0x1F) != 0)
            throw CpuFault.GP(error);
        return @base;
    }

    /// <summary>
    /// LLDT (SDM: LLDT): null makes LDTR unusable, its base and limit left stale
    /// (<see cref="SegmentRegister.Invalidate"/>); otherwise a GDT selector of an LDT descriptor
    /// (16 bytes in IA-32e mode, <see cref="SystemBase"/>).
    /// </summary>
    private static void Lldt(X86Cpu cpu, in Instruction i)
    {
        if (!cpu.ProtectedMode || cpu.Virtual8086)
            throw CpuFault.UD();
        RequireCpl0(cpu);
        ushort selector = (ushort)cpu.ReadOperand(i, 0, 2);
        if ((selector & 0xFFFC) == 0)
        {
            cpu.Ldtr.Invalidate(selector);
            return;
        }

        uint error = CpuFault.SelectorError(selector);
        if ((selector & 4) != 0)
            throw CpuFault.GP(error);
        var d = cpu.ReadDescriptor(selector);
        ulong high = cpu.LongMode ? cpu.ReadDescriptorHigh(selector) : 0;
        if (!d.IsSystem || d.Type != SystemDescriptorType.Ldt)
            throw CpuFault.GP(error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        ulong @base = SystemBase(cpu, d, high, error);
        cpu.Ldtr.Load(selector, d);
        cpu.Ldtr.Base = @base;
    }

    /// <summary>LMSW: loads CR0 bits 0-3; it can set PE but never clear it.</summary>
    private static void Lmsw(X86Cpu cpu, in Instruction i)
    {
        RequireCpl0(cpu);
        ulong v = cpu.ReadOperand(i, 0, 2) & 0xF;
        ulong cr0 = (cpu.Cr0Value & ~0xEul) | v | (cpu.Cr0Value & Cr0.PE);
        cpu.Cr0Value = cr0;
        cpu.UpdateMode();
    }

    private static void Hlt(X86Cpu cpu, in Instruction i)
    {
        RequireCpl0(cpu);
        throw new X86Cpu.HaltException();
    }

    /// <summary>
    /// CPUID: #GP(0) at CPL &gt; 0 while CPUID faulting is on (<see cref="X86Cpu.CheckCpuidFaulting"/>),
    /// else answered by whoever runs the CPU (bare hardware or the hypervisor).
    /// </summary>
    private static void Cpuid(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckCpuidFaulting();
        var r = cpu.Intercepts.Cpuid(cpu, cpu.Eax, cpu.Ecx);
        cpu.WriteGpr(X86Cpu.RAX, 4, r.Eax);
        cpu.WriteGpr(X86Cpu.RBX, 4, r.Ebx);
        cpu.WriteGpr(X86Cpu.RCX, 4, r.Ecx);
        cpu.WriteGpr(X86Cpu.RDX, 4, r.Edx);
    }

    private static void Rdmsr(X86Cpu cpu, in Instruction i)
    {
        RequireCpl0(cpu);
        ulong value = cpu.ReadMsr(cpu.Ecx);
        cpu.WriteGpr(X86Cpu.RAX, 4, (uint)value);
        cpu.WriteGpr(X86Cpu.RDX, 4, value >> 32);
    }

    private static void Wrmsr(X86Cpu cpu, in Instruction i)
    {
        RequireCpl0(cpu);
        cpu.WriteMsr(cpu.Ecx, ((ulong)cpu.Edx << 32) | cpu.Eax);
    }

    /// <summary>RDTSC: #GP(0) at CPL &gt; 0 with CR4.TSD set.</summary>
    private static void Rdtsc(X86Cpu cpu, in Instruction i)
    {
        if ((cpu.Cr4Value & Cr4.TSD) != 0 && cpu.Cpl > 0)
            throw CpuFault.GP(0);
        ulong tsc = cpu.TimeStampCounter;
        cpu.WriteGpr(X86Cpu.RAX, 4, (uint)tsc);
        cpu.WriteGpr(X86Cpu.RDX, 4, tsc >> 32);
    }

    /// <summary>
    /// RDPMC (SDM: RDPMC): allowed at CPL 0, in real-address mode, or with CR4.PCE set; ECX must
    /// name a counter the processor has. CPUID enumerates no leaf 0AH (architectural performance
    /// monitoring), so the counters are the two of the P6 family, ECX = 0 and 1; they count no
    /// events (no event is ever selected) and read 0. Anything else is #GP(0).
    /// </summary>
    private static void Rdpmc(X86Cpu cpu, in Instruction i)
    {
        bool allowed = (cpu.Cr4Value & Cr4.PCE) != 0 || cpu.Cpl == 0 || !cpu.ProtectedMode;
        if (!allowed || cpu.Ecx > 1)
            throw CpuFault.GP(0);
        cpu.WriteGpr(X86Cpu.RAX, 4, 0);
        cpu.WriteGpr(X86Cpu.RDX, 4, 0);
    }

    /// <summary>VMCALL/VMMCALL exit to the hypervisor at any CPL; without one they are #UD.</summary>
    private static void Vmcall(X86Cpu cpu, in Instruction i)
    {
        if (!cpu.Intercepts.Vmcall(cpu))
            throw CpuFault.UD();
    }

    /// <summary>
    /// MOV to CRn (SDM: MOV CR): CR1, CR5-CR7 and beyond are #UD, which comes before the #GP(0) of
    /// CPL &gt; 0 (SDM vol. 3, table 6-2: decode faults before execution faults).
    /// </summary>
    internal static void MovToCr(X86Cpu cpu, in Instruction i)
    {
        int n = ControlRegisterNumber(i.Op0Register);
        RequireCpl0(cpu);
        ulong v = cpu.ReadOperand(i, 1, cpu.Bitness == 64 ? 8 : 4);
        cpu.WriteControlRegister(n, v);
    }

    internal static void MovFromCr(X86Cpu cpu, in Instruction i)
    {
        int n = ControlRegisterNumber(i.Op1Register);
        RequireCpl0(cpu);
        ulong v = cpu.ReadControlRegister(n);
        cpu.WriteOperand(i, 0, cpu.Bitness == 64 ? 8 : 4, v);
    }

    /// <summary>CR0, CR2, CR3, CR4 and (encoded with REX.R, so in 64-bit mode only) CR8 exist; any other control register is #UD, before the CPL check.</summary>
    private static int ControlRegisterNumber(Register r)
    {
        int n = r - Register.CR0;
        if (n is not (0 or 2 or 3 or 4 or 8))
            throw CpuFault.UD();
        return n;
    }

    /// <summary>
    /// MOV to/from DRn (SDM: MOV DR): DR4/DR5 are #UD with CR4.DE set and alias DR6/DR7 without it;
    /// then, with DR7.GD set, #DB with DR6.BD before the access (SDM vol. 3, 18.2.4: "prior to any
    /// MOV instruction that accesses a debug register"); then #GP(0) at CPL &gt; 0 (virtual-8086
    /// mode included).
    /// </summary>
    internal static void MovDr(X86Cpu cpu, in Instruction i)
    {
        bool toDr = i.Op0Kind == OpKind.Register && i.Op0Register.IsDR();
        int n = (toDr ? i.Op0Register : i.Op1Register) - Register.DR0;
        if (n > 7)
            throw CpuFault.UD();
        if (n is 4 or 5)
        {
            if ((cpu.Cr4Value & Cr4.DE) != 0)
                throw CpuFault.UD();
            n += 2;
        }

        cpu.CheckGeneralDetect();
        RequireCpl0(cpu);
        int size = cpu.Bitness == 64 ? 8 : 4;
        if (toDr)
            cpu.WriteDebugRegister(n, cpu.ReadOperand(i, 1, size));
        else
            cpu.WriteOperand(i, 0, size, cpu.ReadDebugRegister(n));
    }
}
