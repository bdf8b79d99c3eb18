using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Cpu.Tasks;

namespace Xtf.Core.Cpu;

/// <summary>What started a task switch (SDM vol. 3, 7.3, table 7-2): decides busy bits, NT and the back-link.</summary>
public enum TaskSwitchReason
{
    /// <summary>JMP to a TSS descriptor or task gate.</summary>
    Jump,

    /// <summary>CALL to a TSS descriptor or task gate: NT set and back-link written in the new TSS.</summary>
    Call,

    /// <summary>An exception, interrupt or INT n through a task gate in the IDT: as CALL.</summary>
    Interrupt,

    /// <summary>IRET with EFLAGS.NT set: return to the task named by the back-link.</summary>
    Iret,
}

/// <summary>Hardware task switching (SDM vol. 3, 7.3): the checks before the commit point and the save of the old task.</summary>
public sealed partial class X86Cpu
{
    /// <summary>
    /// Switches to the task whose TSS descriptor <paramref name="tssSelector"/> names (SDM vol. 3,
    /// 7.3). <paramref name="returnRip"/> is the EIP saved in the outgoing TSS; an error code, if
    /// any, is pushed on the new task's stack. The caller has done the privilege check of step 2
    /// (TSS or task-gate DPL against CPL and RPL for JMP/CALL, gate DPL for INT n) and fetched the
    /// selector (from the task gate, the operand, or the back-link for IRET). Faults before the
    /// commit point leave the old task untouched; later ones are raised in the new task's context.
    /// </summary>
    internal void SwitchTask(ushort tssSelector, TaskSwitchReason reason, ulong returnRip, uint? errorCode = null, bool external = false)
    {
        // SDM vol. 3, 7.7: IA-32e mode has no hardware task switching.
        if (LongMode)
            throw CpuFault.GP(0);

        var descriptor = CheckIncomingTss(tssSelector, reason, external);
        bool new32 = (descriptor.Type & 8) != 0;
        ulong newBase = descriptor.Base;

        // The outgoing state must fit the current TSS (not in table 7-1; Bochs raises #TS(TR) too).
        bool old32 = (Tr.Type & 8) != 0;
        uint oldMinimum = old32 ? Tss32.MinimumLimit : Tss16.MinimumLimit;
        if (Tr.Limit < oldMinimum)
            throw new CpuFault(X86Vector.TS, SelectorErrorCode(Tr.Selector, external));

        // Step 4: both TSSs and both descriptors must be reachable before anything is written.
        ProbeSystemWrite(Tr.Base, oldMinimum);
        ProbeSystemWrite(newBase, new32 ? Tss32.MinimumLimit : Tss16.MinimumLimit);
        ProbeSystemWrite(Gdtr.Base + (uint)(Tr.Selector & 0xFFF8), 7);
        ProbeSystemWrite(Gdtr.Base + (uint)(tssSelector & 0xFFF8), 7);
        var incoming = ReadTaskState(newBase, new32);

        // Commit point. Step 5: JMP and IRET leave the old task, which stops being busy.
        if (reason is TaskSwitchReason.Jump or TaskSwitchReason.Iret)
            SetTssBusy(Tr.Selector, busy: false);

        // Steps 6-7: IRET saves EFLAGS with NT clear; JMP, CALL and interrupts save it unchanged (table 7-2).
        uint savedFlags = reason == TaskSwitchReason.Iret ? Eflags & ~RFlags.NT : Eflags;
        SaveTaskState(old32, returnRip, savedFlags);

        // Step 8 and table 7-2: CALL and interrupts nest: back-link to the old TSS, NT set in the new task.
        if (reason is TaskSwitchReason.Call or TaskSwitchReason.Interrupt)
        {
            WriteImplicit(SystemLinear(newBase, Tss32.BackLink), 2, Tr.Selector);
            incoming.Eflags |= RFlags.NT;
        }

        // Step 9: the new task is busy (for IRET it already is). Step 10: TR. CR0.TS is set on every switch (2.5).
        if (reason != TaskSwitchReason.Iret)
            SetTssBusy(tssSelector, busy: true);
        Tr.Load(tssSelector, new SegmentDescriptor(descriptor.Raw | (2ul << 40)));
        Cr0Value |= Cr0.TS;

        // Steps 11-12: from here on, faults belong to the new task.
        LoadTaskState(incoming, external);

        // SDM: INT n, TASK-GATE: the error code goes on the new task's stack, #SS(EXT) if it does not fit.
        if (errorCode is { } code)
            PushTaskErrorCode(code, new32, external);
        if (Rip > Segments[CS].Limit)
            throw CpuFault.GP(external ? 1u : 0);

        // SDM vol. 3, 7.2.1 and 17.3.1.5: the T flag of the new TSS raises a debug trap (DR6.BT) before its first instruction.
        if (incoming.Trap)
        {
            Dr[6] |= 1ul << 15;
            DeliverEvent((int)X86Vector.DB, null, EventKind.Exception, Rip);
        }
    }

    /// <summary>
    /// The checks on the incoming TSS descriptor, in the order of SDM vol. 3, table 7-1 (rows 1-3):
    /// it must be a GDT TSS descriptor, present (#NP), available for JMP/CALL/interrupts or busy for
    /// IRET, and large enough (#TS). Bad selectors and types are #GP for JMP, CALL and task gates
    /// (SDM: JMP, CALL, INT n TASK-GATE) and #TS for the back-link of IRET (SDM: IRET TASK-RETURN).
    /// </summary>
    private SegmentDescriptor CheckIncomingTss(ushort selector, TaskSwitchReason reason, bool external)
    {
        var vector = reason == TaskSwitchReason.Iret ? X86Vector.TS : X86Vector.GP;
        uint error = SelectorErrorCode(selector, external);
        if ((selector & 4) != 0)
            throw new CpuFault(vector, error);
        var d = ReadDescriptor(selector, vector, external);
        bool isTss = d.IsSystem && d.Type is SystemDescriptorType.Tss16Available or SystemDescriptorType.Tss16Busy
            or SystemDescriptorType.Tss32Available or SystemDescriptorType.Tss32Busy;
        if (!isTss)
            throw new CpuFault(vector, error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        bool busy = (d.Type & 2) != 0;
        if (busy != (reason == TaskSwitchReason.Iret))
            throw new CpuFault(vector, error);
        uint minimum = (d.Type & 8) != 0 ? Tss32.MinimumLimit : Tss16.MinimumLimit;
        if (d.EffectiveLimit < minimum)
            throw new CpuFault(X86Vector.TS, error);
        return d;
    }

    /// <summary>Reads the whole incoming state (32-bit TSS: figure 7-2; 16-bit TSS: figure 7-10).</summary>
    private TaskState ReadTaskState(ulong tssBase, bool is32)
    {
        var s = new TaskState { Is32 = is32 };
        if (is32)
        {
            s.Eip = (uint)ReadSystem(tssBase, Tss32.Eip, 4);
            s.Eflags = (uint)ReadSystem(tssBase, Tss32.Eflags, 4);
            s.Cr3 = (uint)ReadSystem(tssBase, Tss32.Cr3, 4);
            for (int i = 0; i < 8; i++)
                s.Gprs[i] = (uint)ReadSystem(tssBase, Tss32.Gprs + (uint)(4 * i), 4);
            for (int seg = 0; seg < 6; seg++)
                s.Selectors[seg] = (ushort)ReadSystem(tssBase, Tss32.Selectors + (uint)(4 * seg), 2);
            s.Ldt = (ushort)ReadSystem(tssBase, Tss32.Ldt, 2);
            s.Trap = (ReadSystem(tssBase, Tss32.Trap, 2) & 1) != 0;
            return s;
        }

        s.Eip = (uint)ReadSystem(tssBase, Tss16.Ip, 2);
        s.Eflags = (uint)ReadSystem(tssBase, Tss16.Flags, 2);
        for (int i = 0; i < 8; i++)
            s.Gprs[i] = (uint)ReadSystem(tssBase, Tss16.Gprs + (uint)(2 * i), 2);
        for (int seg = ES; seg <= DS; seg++)
            s.Selectors[seg] = (ushort)ReadSystem(tssBase, Tss16.Selectors + (uint)(2 * seg), 2);
        s.Ldt = (ushort)ReadSystem(tssBase, Tss16.Ldt, 2);
        return s;
    }

    /// <summary>
    /// Step 7: the dynamic fields of the outgoing TSS (SDM vol. 3, 7.2.1): EIP, EFLAGS, the
    /// general-purpose registers and the segment selectors. CR3 and the LDT selector are static
    /// and not written. A 16-bit TSS keeps the low halves and has no FS or GS slot (7.6).
    /// </summary>
    private void SaveTaskState(bool is32, ulong eip, uint eflags)
    {
        ulong b = Tr.Base;
        if (is32)
        {
            WriteSystem(b, Tss32.Eip, 4, eip);
            WriteSystem(b, Tss32.Eflags, 4, eflags);
            for (int i = 0; i < 8; i++)
                WriteSystem(b, Tss32.Gprs + (uint)(4 * i), 4, gpr[i]);
            for (int seg = 0; seg < 6; seg++)
                WriteSystem(b, Tss32.Selectors + (uint)(4 * seg), 2, Segments[seg].Selector);
            return;
        }

        WriteSystem(b, Tss16.Ip, 2, eip);
        WriteSystem(b, Tss16.Flags, 2, eflags);
        for (int i = 0; i < 8; i++)
            WriteSystem(b, Tss16.Gprs + (uint)(2 * i), 2, gpr[i]);
        for (int seg = ES; seg <= DS; seg++)
            WriteSystem(b, Tss16.Selectors + (uint)(2 * seg), 2, Segments[seg].Selector);
    }

    /// <summary>SDM: INT n, TASK-GATE: the error code is pushed (dword for a 32-bit TSS) on the new stack; no room is #SS(EXT).</summary>
    private void PushTaskErrorCode(uint errorCode, bool is32, bool external)
    {
        int size = is32 ? 4 : 2;
        ulong sp = (StackPointer - (ulong)size) & SizeMask(StackAddressSize);
        ulong la = CheckedLinear(Segments[SS], X86Vector.SS, external ? 1u : 0, sp, size, AccessKind.Write);
        WriteLinear(la, size, errorCode, Cpl == 3);
        StackPointer = sp;
    }

    /// <summary>With paging on, translates the first and last byte of a supervisor write so a #PF comes before any write.</summary>
    private void ProbeSystemWrite(ulong linear, uint lastOffset)
    {
        if ((Cr0Value & Cr0.PG) == 0)
            return;
        _ = TranslateImplicit(linear & 0xFFFFFFFF, AccessKind.Write);
        _ = TranslateImplicit((linear + lastOffset) & 0xFFFFFFFF, AccessKind.Write);
    }

    private static ulong SystemLinear(ulong tssBase, uint offset) => (tssBase + offset) & 0xFFFFFFFF;

    private ulong ReadSystem(ulong tssBase, uint offset, int size) => ReadImplicit(SystemLinear(tssBase, offset), size);

    private void WriteSystem(ulong tssBase, uint offset, int size, ulong value) =>
        WriteImplicit(SystemLinear(tssBase, offset), size, value);
}
