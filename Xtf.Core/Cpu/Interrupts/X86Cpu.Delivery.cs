using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>Exception and interrupt delivery through the IVT or IDT (SDM vol. 3, chapter 6).</summary>
public sealed partial class X86Cpu
{
    private readonly SegmentRegister innerStack = new();

    /// <summary>
    /// Delivers a fault raised by the current instruction. A fault while delivering a contributory
    /// exception or #PF becomes #DF by the rules of SDM table 6-5; a fault while delivering #DF is a
    /// triple fault and the processor shuts down.
    /// </summary>
    internal StopReason? DeliverFault(CpuFault fault)
    {
        var vector = fault.Vector;
        uint? errorCode = fault.ErrorCode;
        ulong cr2 = fault.FaultAddress;
        while (true)
        {
            if (vector == X86Vector.PF)
                Cr2 = cr2;
            try
            {
                DeliverEvent((int)vector, errorCode, EventKind.Exception, Rip);
                return null;
            }
            catch (CpuFault nested)
            {
                if (vector == X86Vector.DF)
                    return StopReason.TripleFault;
                int first = (int)vector, second = (int)nested.Vector;
                bool doubleFault =
                    (X86VectorInfo.IsContributory(first) && X86VectorInfo.IsContributory(second)) ||
                    (first == (int)X86Vector.PF && (X86VectorInfo.IsContributory(second) || second == (int)X86Vector.PF));
                if (doubleFault)
                {
                    vector = X86Vector.DF;
                    errorCode = 0;
                }
                else
                {
                    // Benign combinations are handled serially: the second event is delivered.
                    vector = nested.Vector;
                    errorCode = nested.ErrorCode;
                    cr2 = nested.FaultAddress;
                }
            }
        }
    }

    /// <summary>
    /// Delivers vector <paramref name="vector"/> with RIP <paramref name="returnRip"/> as the saved
    /// instruction pointer. Faults during delivery propagate to the caller as <see cref="CpuFault"/>.
    /// </summary>
    public void DeliverEvent(int vector, uint? errorCode, EventKind kind, ulong returnRip)
    {
        if (!ProtectedMode)
        {
            DeliverRealMode(vector, returnRip);
            return;
        }

        if (Intercepts.DeliverEvent(this, vector, errorCode, kind, returnRip))
        {
            NextRip = Rip;
            return;
        }

        if (LongMode)
        {
            DeliverLongMode(vector, errorCode, kind, returnRip);
            return;
        }

        DeliverProtectedMode(vector, errorCode, kind, returnRip);
    }

    /// <summary>Real-address mode (SDM vol. 3, 20.1.4): IVT entry CS:IP, push FLAGS, CS, IP; clear IF, TF, AC.</summary>
    private void DeliverRealMode(int vector, ulong returnRip)
    {
        uint offset = (uint)vector * 4;
        if (offset + 3 > Idtr.Limit)
            throw CpuFault.GP(0);
        ulong entry = ReadImplicit((Idtr.Base + offset) & 0xFFFFFFFF, 4);
        CheckStackWritable(6);
        Push(Eflags & 0xFFFF, 2);
        Push(Segments[CS].Selector, 2);
        Push(returnRip & 0xFFFF, 2);
        Eflags &= ~(RFlags.IF | RFlags.TF | RFlags.AC | RFlags.RF);
        Segments[CS].LoadReal((ushort)(entry >> 16));
        Rip = entry & 0xFFFF;
        NextRip = Rip;
    }

    /// <summary>
    /// The first 8 bytes of IDT gate <paramref name="vector"/> (gates of <paramref name="gateSize"/>
    /// bytes), which must lie wholly within the IDT limit, else #GP with the IDT error code.
    /// </summary>
    private SegmentDescriptor ReadIdtGate(int vector, int gateSize, uint idtError)
    {
        uint offset = (uint)(vector * gateSize);
        if (offset + (uint)gateSize - 1 > Idtr.Limit)
            throw CpuFault.GP(idtError);
        ulong linear = Idtr.Base + offset;
        return new SegmentDescriptor(ReadImplicit(LongMode ? linear : linear & 0xFFFFFFFF, 8));
    }

    private void DeliverProtectedMode(int vector, uint? errorCode, EventKind kind, ulong returnRip)
    {
        bool ext = kind is not (EventKind.SoftwareInterrupt or EventKind.InjectedSoftwareInterrupt);
        uint idtError = CpuFault.IdtError(vector, ext);

        // SDM 6.10/6.11: the gate must lie within the IDT limit and be an interrupt, trap or task gate.
        var gate = ReadIdtGate(vector, 8, idtError);
        int type = gate.Type;
        bool validType = gate.IsSystem && type is SystemDescriptorType.TaskGate
            or SystemDescriptorType.InterruptGate16 or SystemDescriptorType.TrapGate16
            or SystemDescriptorType.InterruptGate32 or SystemDescriptorType.TrapGate32;
        if (!validType)
            throw CpuFault.GP(idtError);

        // SDM 6.12.1.1: software interrupts (not ICEBP) need gate DPL >= CPL.
        if (kind == EventKind.SoftwareInterrupt && gate.Dpl < Cpl)
            throw CpuFault.GP(idtError);
        if (!gate.Present)
            throw new CpuFault(X86Vector.NP, idtError);
        if (type == SystemDescriptorType.TaskGate)
        {
            // SDM: INT n, TASK-GATE: switch with nesting to the TSS the gate names.
            SwitchTask(gate.GateSelector, TaskSwitchReason.Interrupt, returnRip, errorCode, ext);
            return;
        }

        ushort selector = gate.GateSelector;
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(ext ? 1u : 0);
        var code = ReadDescriptor(selector, X86Vector.GP, ext);
        if (!code.IsCode || code.Dpl > Cpl)
            throw CpuFault.GP(SelectorErrorCode(selector, ext));
        if (!code.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(selector, ext));

        bool gate32 = (type & 8) != 0;
        int size = gate32 ? 4 : 2;
        ulong target = gate32 ? gate.GateOffset : gate.GateOffset & 0xFFFF;
        bool interruptGate = (type & 1) == 0;
        bool innerLevel = !code.Conforming && code.Dpl < Cpl;

        // SDM: INT n, TRAP-OR-INTERRUPT-GATE: from virtual-8086 mode only a DPL-0 non-conforming
        // handler will do; anything else is #GP(code selector).
        if (Virtual8086)
        {
            if (!innerLevel || code.Dpl != 0)
                throw CpuFault.GP(SelectorErrorCode(selector, ext));
            DeliverFromVirtual8086(selector, code, target, size, ext, errorCode, returnRip, interruptGate);
            return;
        }

        int newCpl = innerLevel ? code.Dpl : Cpl;
        uint flags = Eflags;
        ulong cs = Segments[CS].Selector;
        if (innerLevel)
        {
            // Inter-privilege delivery (SDM 6.12.1): switch to the stack for the new CPL from the
            // TSS; the frame must fit (#SS(new SS)) before the gate's EIP is checked (#GP(EXT)).
            var (ssSelector, sp) = ReadTssStack(newCpl, ext);
            LoadInnerStack(ssSelector, newCpl, ext);
            uint ssError = SelectorErrorCode(ssSelector, ext);
            ReadOnlySpan<ulong> frame = [Segments[SS].Selector, gpr[RSP] & SizeMask(StackAddressSize), flags, cs, returnRip];
            ulong newSp = CheckFrame(innerStack, ssError, sp, frame.Length, errorCode, size);
            if (target > code.EffectiveLimit)
                throw CpuFault.GP(ext ? 1u : 0);
            WriteFrame(innerStack, ssError, sp, frame, errorCode, size);
            Segments[SS].CopyFrom(innerStack);
            WriteGpr(RSP, innerStack.DefaultBig ? 4 : 2, newSp);
        }
        else
        {
            // SDM: INT n, INTRA-PRIVILEGE-LEVEL-INTERRUPT: no room is #SS(EXT).
            ReadOnlySpan<ulong> frame = [flags, cs, returnRip];
            uint ssError = ext ? 1u : 0;
            ulong newSp = CheckFrame(Segments[SS], ssError, StackPointer, frame.Length, errorCode, size);
            if (target > code.EffectiveLimit)
                throw CpuFault.GP(ext ? 1u : 0);
            WriteFrame(Segments[SS], ssError, StackPointer, frame, errorCode, size);
            StackPointer = newSp;
        }

        SetAccessed(selector, code);
        Segments[CS].Load((ushort)((selector & 0xFFFC) | newCpl), code);
        Rip = NextRip = target;
        Eflags &= ~(RFlags.TF | RFlags.NT | RFlags.RF | RFlags.VM);
        if (interruptGate)
            Eflags &= ~RFlags.IF;
        UpdateMode();
    }

    /// <summary>
    /// Checks that a frame of <paramref name="count"/> values (and the error code) fits below
    /// <paramref name="sp"/> on the stack <paramref name="ss"/>, by segment and (with paging) page;
    /// a violation is #SS(<paramref name="ssError"/>). Returns the stack pointer after the pushes.
    /// </summary>
    private ulong CheckFrame(SegmentRegister ss, uint ssError, ulong sp, int count, uint? errorCode, int size)
    {
        int bytes = (count + (errorCode.HasValue ? 1 : 0)) * size;
        ulong mask = ss.DefaultBig ? 0xFFFFFFFFul : 0xFFFFul;
        ulong newSp = (sp - (ulong)bytes) & mask;
        ulong first = CheckedLinear(ss, X86Vector.SS, ssError, newSp, bytes, AccessKind.Write);
        if ((Cr0Value & Cr0.PG) != 0)
        {
            _ = TranslateImplicit(first, AccessKind.Write);
            _ = TranslateImplicit(first + (ulong)bytes - 1, AccessKind.Write);
        }

        return newSp;
    }

    /// <summary>Writes a frame checked by <see cref="CheckFrame"/>: the values (highest address first), then the error code.</summary>
    private void WriteFrame(SegmentRegister ss, uint ssError, ulong sp, ReadOnlySpan<ulong> values, uint? errorCode, int size)
    {
        ulong mask = ss.DefaultBig ? 0xFFFFFFFFul : 0xFFFFul;
        ulong at = sp;
        foreach (ulong v in values)
        {
            at = (at - (ulong)size) & mask;
            WriteImplicit(CheckedLinear(ss, X86Vector.SS, ssError, at, size, AccessKind.Write), size, v);
        }

        if (errorCode is { } ec)
        {
            at = (at - (ulong)size) & mask;
            WriteImplicit(CheckedLinear(ss, X86Vector.SS, ssError, at, size, AccessKind.Write), size, ec);
        }
    }

    /// <summary>Checks and caches the inner stack segment for a privilege change (SDM 6.12.1, #TS and #SS rules).</summary>
    private void LoadInnerStack(ushort selector, int cpl, bool ext)
    {
        var d = CheckInnerStackSegment(selector, cpl, ext);
        SetAccessed(selector, d);
        innerStack.Load(selector, d);
    }
}
