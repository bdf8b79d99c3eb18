using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Flag instructions: CLC/STC/CMC, CLD/STD, CLI/STI, PUSHF/POPF, LAHF/SAHF, SALC, STAC/CLAC.</summary>
internal static class FlagControl
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Clc, static (X86Cpu c, in Instruction i) => c.Eflags &= ~RFlags.CF);
        add(Mnemonic.Stc, static (X86Cpu c, in Instruction i) => c.Eflags |= RFlags.CF);
        add(Mnemonic.Cmc, static (X86Cpu c, in Instruction i) => c.Eflags ^= RFlags.CF);
        add(Mnemonic.Cld, static (X86Cpu c, in Instruction i) => c.Eflags &= ~RFlags.DF);
        add(Mnemonic.Std, static (X86Cpu c, in Instruction i) => c.Eflags |= RFlags.DF);
        add(Mnemonic.Cli, Cli);
        add(Mnemonic.Sti, Sti);
        add(Mnemonic.Pushf, (X86Cpu c, in Instruction i) => Pushf(c, 2));
        add(Mnemonic.Pushfd, (X86Cpu c, in Instruction i) => Pushf(c, 4));
        add(Mnemonic.Pushfq, (X86Cpu c, in Instruction i) => Pushf(c, 8));
        add(Mnemonic.Popf, (X86Cpu c, in Instruction i) => Popf(c, 2));
        add(Mnemonic.Popfd, (X86Cpu c, in Instruction i) => Popf(c, 4));
        add(Mnemonic.Popfq, (X86Cpu c, in Instruction i) => Popf(c, 8));
        add(Mnemonic.Lahf, static (X86Cpu c, in Instruction i) => c.WriteRegister(Register.AH, (c.Eflags & 0xD5) | RFlags.Reserved1));
        add(Mnemonic.Sahf, static (X86Cpu c, in Instruction i) =>
            c.Eflags = (c.Eflags & ~0xD5u) | ((uint)c.ReadRegister(Register.AH) & 0xD5));
        add(Mnemonic.Salc, Salc);
        add(Mnemonic.Stac, (X86Cpu c, in Instruction i) => SetAlignmentCheck(c, true));
        add(Mnemonic.Clac, (X86Cpu c, in Instruction i) => SetAlignmentCheck(c, false));
    }

    /// <summary>
    /// STAC/CLAC (SDM: STAC, CLAC): set or clear EFLAGS.AC, which lifts SMAP for explicit
    /// supervisor accesses. #UD without CPUID SMAP, in virtual-8086 mode, and at CPL &gt; 0 in
    /// protected mode; allowed in real-address mode.
    /// </summary>
    private static void SetAlignmentCheck(X86Cpu cpu, bool set)
    {
        if ((CpuidLeaves.Leaf7Ebx & (1u << 20)) == 0 || cpu.Virtual8086 || (cpu.ProtectedMode && cpu.Cpl > 0))
            throw CpuFault.UD();
        cpu.Eflags = set ? cpu.Eflags | RFlags.AC : cpu.Eflags & ~RFlags.AC;
    }

    /// <summary>
    /// SALC (D6, outside 64-bit mode): AL = FFh if CF is set, else 00h; no flag changes. Intel
    /// documents D6 only as reserved, but every x86 since the 8086 executes it so (AMD APM vol. 3,
    /// opcode map: SALC; SingleStepTests 80286 D6 captures).
    /// </summary>
    private static void Salc(X86Cpu cpu, in Instruction i)
    {
        if (cpu.Bitness == 64)
            throw CpuFault.UD();
        cpu.WriteGpr(X86Cpu.RAX, 1, (cpu.Eflags & RFlags.CF) != 0 ? 0xFFu : 0);
    }

    /// <summary>
    /// CLI (SDM: CLI): IF is cleared in real mode, at CPL &lt;= IOPL, and in virtual-8086 mode with
    /// IOPL 3. Otherwise VIF is cleared instead at CPL 3 with CR4.PVI (protected mode) or in
    /// virtual-8086 mode with CR4.VME; anything else is #GP(0).
    /// </summary>
    private static void Cli(X86Cpu cpu, in Instruction i)
    {
        if (!cpu.ProtectedMode || cpu.Cpl <= cpu.Iopl)
            cpu.Eflags &= ~RFlags.IF;
        else if (VirtualInterruptFlagApplies(cpu))
            cpu.Eflags &= ~RFlags.VIF;
        else
            throw CpuFault.GP(0);
    }

    /// <summary>
    /// STI (SDM: STI): the IOPL rules of CLI, except that VIF is set only while VIP is clear; setting
    /// IF opens the one-instruction interrupt shadow (SDM vol. 3, 6.8.3) when IF was clear.
    /// </summary>
    private static void Sti(X86Cpu cpu, in Instruction i)
    {
        if (!cpu.ProtectedMode || cpu.Cpl <= cpu.Iopl)
        {
            if ((cpu.Eflags & RFlags.IF) == 0)
                cpu.InhibitInterrupts();
            cpu.Eflags |= RFlags.IF;
        }
        else if (VirtualInterruptFlagApplies(cpu) && (cpu.Eflags & RFlags.VIP) == 0)
        {
            cpu.Eflags |= RFlags.VIF;
        }
        else
        {
            throw CpuFault.GP(0);
        }
    }

    /// <summary>
    /// At CPL &gt; IOPL: protected-mode virtual interrupts (CR4.PVI, CPL 3) or virtual-8086 mode
    /// extensions (CR4.VME) make CLI/STI act on VIF (SDM vol. 3, 20.3 and 20.4).
    /// </summary>
    private static bool VirtualInterruptFlagApplies(X86Cpu cpu) => cpu.Virtual8086
        ? (cpu.Cr4Value & Cr4.VME) != 0
        : cpu.Cpl == 3 && (cpu.Cr4Value & Cr4.PVI) != 0;

    /// <summary>
    /// PUSHF (SDM: PUSHF): the image has VM and RF cleared; a 16-bit PUSHF pushes the low word.
    /// In virtual-8086 mode with IOPL &lt; 3 it is #GP(0), unless CR4.VME is set and the operand is
    /// 16 bits: then the image has VIF in place of IF and IOPL = 3.
    /// </summary>
    private static void Pushf(X86Cpu cpu, int size)
    {
        uint image = cpu.Eflags & ~(RFlags.VM | RFlags.RF);
        if (cpu.Virtual8086 && cpu.Iopl < 3)
        {
            if ((cpu.Cr4Value & Cr4.VME) == 0 || size != 2)
                throw CpuFault.GP(0);
            image = (image & ~RFlags.IF) | ((cpu.Eflags & RFlags.VIF) != 0 ? RFlags.IF : 0) | RFlags.IOPL;
        }

        cpu.Push(image & (uint)X86Cpu.SizeMask(size), size);
    }

    /// <summary>
    /// POPF (SDM: POPF): in real mode and at CPL 0 IF and IOPL may change; at 0 &lt; CPL &lt;= IOPL
    /// IF but not IOPL; at CPL &gt; IOPL neither, without a fault. VM, VIF and VIP never change
    /// and RF is cleared; a 16-bit POPF writes only the low word. In virtual-8086 mode with IOPL
    /// &lt; 3 it is #GP(0), unless CR4.VME is set and the operand is 16 bits: then the popped IF
    /// goes to VIF, and TF set, or IF set while VIP is set, is #GP(0).
    /// </summary>
    private static void Popf(X86Cpu cpu, int size)
    {
        uint value = (uint)cpu.PeekStack(0, size);
        uint writable = RFlags.Status | RFlags.TF | RFlags.DF | RFlags.NT | RFlags.AC | RFlags.ID | RFlags.IF | RFlags.IOPL;
        if (cpu.Virtual8086 && cpu.Iopl < 3)
        {
            bool vip = (cpu.Eflags & RFlags.VIP) != 0;
            if ((cpu.Cr4Value & Cr4.VME) == 0 || size != 2 || (value & RFlags.TF) != 0 || (vip && (value & RFlags.IF) != 0))
                throw CpuFault.GP(0);
            writable &= 0xFFFF & ~(RFlags.IF | RFlags.IOPL);
            uint vif = (value & RFlags.IF) != 0 ? RFlags.VIF : 0;
            cpu.StackPointer += (ulong)size;
            cpu.Eflags = (((cpu.Eflags & ~writable) | (value & writable)) & ~RFlags.VIF) | vif | RFlags.Reserved1;
            return;
        }

        if (cpu.ProtectedMode)
        {
            if (cpu.Cpl > 0)
                writable &= ~RFlags.IOPL;
            if (cpu.Cpl > cpu.Iopl)
                writable &= ~RFlags.IF;
        }

        if (size == 2)
            writable &= 0xFFFF;
        cpu.StackPointer += (ulong)size;
        cpu.Eflags = ((cpu.Eflags & ~writable) | (value & writable) | RFlags.Reserved1) & ~RFlags.RF;
    }
}
