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
    /// SDM: IRET, TASK-RETURN (NT = 1): switch without nesting to the task named by the back-link
    /// of the current TSS. The back-link must name a busy TSS in the GDT, else #TS(back-link);
    /// IA-32e mode has no task return (#GP(0)).
    /// </summary>
    private static void TaskReturn(X86Cpu cpu)
    {
        if (cpu.LongMode)
            throw CpuFault.GP(0);
        ushort backLink = (ushort)cpu.ReadLinear((cpu.Tr.Base + Tasks.Tss32.BackLink) & 0xFFFFFFFF, 2, user: false);
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
