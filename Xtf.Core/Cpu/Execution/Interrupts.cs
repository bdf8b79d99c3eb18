using Iced.Intel;
using Xtf.Core.Cpu.Interrupts;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Software interrupts and interrupt return: INT n, INT3, INTO, INT1 (ICEBP), IRET.</summary>
internal static class Interrupts
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Int, IntN);
        add(Mnemonic.Int3, (X86Cpu c, in Instruction i) => SoftwareInterrupt(c, (int)X86Vector.BP, EventKind.SoftwareInterrupt));
        add(Mnemonic.Int1, (X86Cpu c, in Instruction i) => SoftwareInterrupt(c, (int)X86Vector.DB, EventKind.Icebp));
        add(Mnemonic.Into, Into);
        add(Mnemonic.Iret, (X86Cpu c, in Instruction i) => Iret(c, 2));
        add(Mnemonic.Iretd, (X86Cpu c, in Instruction i) => Iret(c, 4));
        add(Mnemonic.Iretq, (X86Cpu c, in Instruction i) => Iret(c, 8));
    }

    /// <summary>
    /// INT n (CD ib): in virtual-8086 mode with IOPL &lt; 3 it is #GP(0) (SDM: INT n, "VM = 1 and
    /// IOPL &lt; 3 AND INT n"; SDM vol. 3, 20.2.7). INT3 (CC) and INTO are not IOPL-sensitive.
    /// </summary>
    private static void IntN(X86Cpu cpu, in Instruction i)
    {
        if (cpu.Virtual8086 && cpu.Iopl < 3)
            throw CpuFault.GP(0);
        SoftwareInterrupt(cpu, i.Immediate8, EventKind.SoftwareInterrupt);
    }

    /// <summary>INT n / INT3 / INTO / ICEBP: delivered as a trap, the saved RIP is the next instruction.</summary>
    private static void SoftwareInterrupt(X86Cpu cpu, int vector, EventKind kind) =>
        cpu.DeliverEvent(vector, null, kind, cpu.NextRip);

    /// <summary>INTO: #OF as a software interrupt when OF is set; #UD in 64-bit mode.</summary>
    private static void Into(X86Cpu cpu, in Instruction i)
    {
        if (cpu.Bitness == 64)
            throw CpuFault.UD();
        if ((cpu.Eflags & RFlags.OF) != 0)
            SoftwareInterrupt(cpu, (int)X86Vector.OF, EventKind.SoftwareInterrupt);
    }

    /// <summary>
    /// IRET (SDM vol. 2, IRET pseudo-code) in its order: real mode; virtual-8086 mode (IOPL 3 only,
    /// else #GP(0) before anything is popped); task return when NT is set; return to
    /// virtual-8086 mode (CPL 0, IRETD, VM in the image); protected mode to the same or an outer level.
    /// </summary>
    private static void Iret(X86Cpu cpu, int size)
    {
        if (cpu.LongMode)
        {
            IretLongMode(cpu, size);
            return;
        }

        if (cpu.ProtectedMode && cpu.Virtual8086 && cpu.Iopl < 3)
            throw CpuFault.GP(0);
        if (cpu.ProtectedMode && !cpu.Virtual8086 && (cpu.Eflags & RFlags.NT) != 0)
        {
            TaskReturn(cpu);
            return;
        }

        ulong eip = cpu.PeekStack(0, size);
        ushort selector = (ushort)cpu.PeekStack(size, size);
        uint flags = (uint)cpu.PeekStack(2 * size, size);

        if (!cpu.ProtectedMode)
        {
            ControlTransfer.BranchTo(cpu, eip, size);
            cpu.StackPointer += (ulong)(3 * size);
            cpu.CommitCodeSegment(selector, default, 0);
            WriteFlags(cpu, flags, size, cpl: 0, iopl: cpu.Iopl);
            return;
        }

        if (cpu.Virtual8086)
        {
            // RETURN-FROM-VIRTUAL-8086-MODE at IOPL 3: VM, IOPL, VIP and VIF are not changed.
            ControlTransfer.BranchTo(cpu, eip, size);
            cpu.StackPointer += (ulong)(3 * size);
            cpu.CommitCodeSegment(selector, default, 3);
            WriteFlags(cpu, flags, size, cpl: 3, iopl: 3);
            return;
        }

        if ((flags & RFlags.VM) != 0 && cpu.Cpl == 0 && size == 4)
        {
            cpu.ReturnToVirtual8086(eip, selector, flags);
            return;
        }

        int oldCpl = cpu.Cpl;
        int oldIopl = cpu.Iopl;
        var code = cpu.CheckReturnCodeSegment(selector);
        int rpl = selector & 3;
        if (rpl == oldCpl)
        {
            if (eip > code.EffectiveLimit)
                throw CpuFault.GP(0);
            cpu.StackPointer += (ulong)(3 * size);
            cpu.CommitCodeSegment(selector, code, rpl);
            cpu.NextRip = eip;
            WriteFlags(cpu, flags, size, oldCpl, oldIopl, protectedMode: true);
            return;
        }

        // Return to an outer privilege level: SS:ESP come from the frame.
        ulong newSp = cpu.PeekStack(3 * size, size);
        ushort ssSelector = (ushort)cpu.PeekStack(4 * size, size);
        var stack = cpu.CheckReturnStackSegment(ssSelector, rpl);
        if (eip > code.EffectiveLimit)
            throw CpuFault.GP(0);
        cpu.CommitCodeSegment(selector, code, rpl);
        cpu.NextRip = eip;
        WriteFlags(cpu, flags, size, oldCpl, oldIopl, protectedMode: true);
        cpu.SetAccessed(ssSelector, stack);
        cpu.Segments[X86Cpu.SS].Load(ssSelector, stack);
        cpu.WriteGpr(X86Cpu.RSP, stack.DefaultBig ? 4 : 2, newSp);
        cpu.NullifyInaccessibleDataSegments();
    }

    /// <summary>
    /// IRET in IA-32e mode (SDM vol. 2, IRET, IA-32e-MODE; vol. 3, 6.14.3). NT set is #GP(0): there
    /// is no task return. The frame holds RIP, CS, RFLAGS in slots of the operand size (IRETQ 8,
    /// IRETD 4, IRET 2), then RSP and SS: popped always in 64-bit mode, in compatibility mode only
    /// on a return to an outer level. A popped RIP that is not canonical is #GP(0); the code
    /// segment is checked as in protected mode (with L and D both set #GP(selector)); the stack
    /// segment as for an outer return, except that a null SS may return to 64-bit mode at CPL 0-2
    /// (6.14.3). The new RIP must be canonical (64-bit target) or within the limit (#GP(0)).
    /// </summary>
    private static void IretLongMode(X86Cpu cpu, int size)
    {
        if ((cpu.Eflags & RFlags.NT) != 0)
            throw CpuFault.GP(0);

        ulong rip = cpu.PeekStack(0, size);
        ushort selector = (ushort)cpu.PeekStack(size, size);
        uint flags = (uint)cpu.PeekStack(2 * size, size);
        bool from64 = cpu.Bitness == 64;
        int rpl = selector & 3;
        bool popStack = from64 || rpl > cpu.Cpl;
        ulong newSp = 0;
        ushort ssSelector = 0;
        if (popStack)
        {
            newSp = cpu.PeekStack(3 * size, size);
            ssSelector = (ushort)cpu.PeekStack(4 * size, size);
        }

        if (!X86Cpu.IsCanonical(rip))
            throw CpuFault.GP(0);
        var code = cpu.CheckReturnCodeSegment(selector);
        bool to64 = code.Long;
        int oldCpl = cpu.Cpl;
        int oldIopl = cpu.Iopl;
        if (!popStack)
        {
            // Compatibility mode, same privilege: as in protected mode, but a 64-bit target
            // (RETURN-TO-SAME-PRIVILEGE-LEVEL, "new mode = 64-bit mode") has no limit check.
            if (!to64 && rip > code.EffectiveLimit)
                throw CpuFault.GP(0);
            cpu.StackPointer += (ulong)(3 * size);
            cpu.CommitCodeSegment(selector, code, rpl);
            cpu.NextRip = rip;
            WriteFlags(cpu, flags, size, oldCpl, oldIopl, protectedMode: true);
            return;
        }

        var stack = cpu.CheckLongModeReturnStack(ssSelector, rpl, to64);
        if (!to64 && rip > code.EffectiveLimit)
            throw CpuFault.GP(0);

        cpu.CommitCodeSegment(selector, code, rpl);
        cpu.NextRip = rip;
        WriteFlags(cpu, flags, size, oldCpl, oldIopl, protectedMode: true);
        if (stack is { } ss)
        {
            cpu.SetAccessed(ssSelector, ss);
            cpu.Segments[X86Cpu.SS].Load(ssSelector, ss);
        }
        else
        {
            cpu.Segments[X86Cpu.SS].LoadNull(ssSelector);
        }

        // In 64-bit mode the popped slot is the new RSP (an IRETD writes ESP, zero-extended); from
        // compatibility mode, the new stack's size decides, as in protected mode.
        int spSize = from64 || to64 ? size : stack is { DefaultBig: true } ? 4 : 2;
        cpu.WriteGpr(X86Cpu.RSP, spSize, newSp);
        if (rpl > oldCpl)
            cpu.NullifyInaccessibleDataSegments();
    }

    /// <summary>
    /// SDM: IRET, TASK-RETURN (NT = 1): switch without nesting to the task named by the back-link
    /// of the current TSS. The back-link must name a busy TSS in the GDT, else #TS(back-link).
    /// (IA-32e mode has no task return: <see cref="IretLongMode"/>.)
    /// </summary>
    private static void TaskReturn(X86Cpu cpu)
    {
        ushort backLink = (ushort)cpu.ReadImplicit((cpu.Tr.Base + Tasks.Tss32.BackLink) & 0xFFFFFFFF, 2);
        cpu.SwitchTask(backLink, TaskSwitchReason.Iret, cpu.NextRip);
    }

    /// <summary>
    /// EFLAGS from an IRET frame (SDM: IRET): IOPL only at CPL 0, IF only at CPL &lt;= IOPL; VM is
    /// never written here. VIF and VIP are loaded only by a 32/64-bit protected-mode IRET at CPL 0
    /// (RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL); real mode keeps them. A 16-bit IRET writes only the
    /// low 16 bits.
    /// </summary>
    private static void WriteFlags(X86Cpu cpu, uint value, int size, int cpl, int iopl, bool protectedMode = false)
    {
        uint writable = RFlags.Status | RFlags.TF | RFlags.DF | RFlags.NT | RFlags.RF | RFlags.AC | RFlags.ID
            | RFlags.IF | RFlags.IOPL;
        if (protectedMode && cpl == 0 && size >= 4)
            writable |= RFlags.VIF | RFlags.VIP;
        if (cpl > 0)
            writable &= ~RFlags.IOPL;
        if (cpl > iopl)
            writable &= ~RFlags.IF;
        if (size == 2)
            writable &= 0xFFFF;
        cpu.Eflags = (cpu.Eflags & ~writable) | (value & writable) | RFlags.Reserved1;
        cpu.UpdateMode();
    }
}
