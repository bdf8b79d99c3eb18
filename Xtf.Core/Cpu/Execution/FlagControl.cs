using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Flag instructions: CLC/STC/CMC, CLD/STD, CLI/STI, PUSHF/POPF, LAHF/SAHF, SALC.</summary>
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

    /// <summary>CLI: #GP(0) when CPL > IOPL in protected mode (SDM: CLI; VME/PVI not modelled).</summary>
    private static void Cli(X86Cpu cpu, in Instruction i)
    {
        if (cpu.ProtectedMode && cpu.Cpl > cpu.Iopl)
            throw CpuFault.GP(0);
        cpu.Eflags &= ~RFlags.IF;
    }

    /// <summary>STI: same IOPL rule as CLI; sets the one-instruction interrupt shadow.</summary>
    private static void Sti(X86Cpu cpu, in Instruction i)
    {
        if (cpu.ProtectedMode && cpu.Cpl > cpu.Iopl)
            throw CpuFault.GP(0);
        if ((cpu.Eflags & RFlags.IF) == 0)
            cpu.InhibitInterrupts();
        cpu.Eflags |= RFlags.IF;
    }

    /// <summary>PUSHF: the image has VM and RF cleared (SDM: PUSHF). In virtual-8086 mode IOPL &lt; 3 faults.</summary>
    private static void Pushf(X86Cpu cpu, int size)
    {
        if (cpu.Virtual8086 && cpu.Iopl < 3)
            throw CpuFault.GP(0);
        cpu.Push(cpu.Eflags & ~(RFlags.VM | RFlags.RF), size);
    }

    /// <summary>
    /// POPF (SDM: POPF): CPL 0 may change IOPL and IF; CPL &lt;= IOPL may change IF but not IOPL;
    /// otherwise neither changes and no fault is raised. VM, VIF, VIP are never changed and RF
    /// is cleared. A 16-bit POPF changes only the low 16 bits.
    /// </summary>
    private static void Popf(X86Cpu cpu, int size)
    {
        if (cpu.Virtual8086 && cpu.Iopl < 3)
            throw CpuFault.GP(0);
        uint value = (uint)cpu.PeekStack(0, size);
        uint writable = RFlags.Status | RFlags.TF | RFlags.DF | RFlags.NT | RFlags.AC | RFlags.ID | RFlags.IF | RFlags.IOPL;
        if (cpu.ProtectedMode)
        {
            if (cpu.Virtual8086 || cpu.Cpl > 0)
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
