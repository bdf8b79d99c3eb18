using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>
/// Far JMP and far CALL (SDM vol. 2, JMP and CALL pseudo-code; vol. 3, 5.8): to a conforming or
/// nonconforming code segment, through a call gate (CALL may switch to a more privileged stack
/// from the TSS and copy parameters), or to a task through a TSS descriptor or task gate.
/// JMP and CALL never set EXT in an error code: they are not external events.
/// </summary>
public sealed partial class X86Cpu
{
    private readonly SegmentRegister gateStack = new();

    /// <summary>Far JMP to <paramref name="selector"/>:<paramref name="offset"/> with the given operand size in bytes.</summary>
    internal void FarJump(ushort selector, ulong offset, int operandSize)
    {
        if (!ProtectedMode || Virtual8086)
        {
            // SDM: JMP, real-address or virtual-8086 mode: the target must lie within the CS limit.
            offset &= SizeMask(operandSize);
            if (offset > Segments[CS].Limit)
                throw CpuFault.GP(0);
            CommitCodeSegment(selector, default, Cpl);
            NextRip = offset;
            return;
        }

        if (LongMode)
        {
            FarJumpLongMode(selector, offset, operandSize);
            return;
        }

        var d = ReadFarTarget(selector);
        if (d.IsCode)
        {
            CheckDirectCodeTarget(selector, d);
            ulong target = CheckCodeLimit(d, offset & SizeMask(operandSize));
            CommitCodeSegment(selector, d, Cpl);
            NextRip = target;
            return;
        }

        switch (d.Type)
        {
            case SystemDescriptorType.CallGate16 or SystemDescriptorType.CallGate32:
                {
                    var (codeSelector, code) = CheckCallGate(selector, d);

                    // SDM: JMP, CALL-GATE: JMP never changes privilege; the code segment must be
                    // conforming with DPL <= CPL or nonconforming with DPL = CPL.
                    if (code.Conforming ? code.Dpl > Cpl : code.Dpl != Cpl)
                        throw CpuFault.GP(SelectorErrorCode(codeSelector, false));
                    if (!code.Present)
                        throw new CpuFault(X86Vector.NP, SelectorErrorCode(codeSelector, false));
                    ulong target = CheckCodeLimit(code, GateTarget(d));
                    CommitCodeSegment(codeSelector, code, Cpl);
                    NextRip = target;
                    return;
                }

            default:
                FarTransferToTask(selector, d, TaskSwitchReason.Jump);
                return;
        }
    }

    /// <summary>Far CALL to <paramref name="selector"/>:<paramref name="offset"/>; the return address is pushed with <paramref name="operandSize"/> bytes per slot.</summary>
    internal void FarCall(ushort selector, ulong offset, int operandSize)
    {
        if (!ProtectedMode || Virtual8086)
        {
            offset &= SizeMask(operandSize);
            CheckStackWritable(2 * operandSize);
            if (offset > Segments[CS].Limit)
                throw CpuFault.GP(0);
            PushReturnAddress(operandSize);
            CommitCodeSegment(selector, default, Cpl);
            NextRip = offset;
            return;
        }

        if (LongMode)
        {
            FarCallLongMode(selector, offset, operandSize);
            return;
        }

        var d = ReadFarTarget(selector);
        if (d.IsCode)
        {
            // SDM: CALL, CONFORMING-/NONCONFORMING-CODE-SEGMENT: privilege, present, then room
            // for the return address (#SS(0)), then the offset against the limit (#GP(0)).
            CheckDirectCodeTarget(selector, d);
            CheckStackWritable(2 * operandSize);
            ulong target = CheckCodeLimit(d, offset & SizeMask(operandSize));
            PushReturnAddress(operandSize);
            CommitCodeSegment(selector, d, Cpl);
            NextRip = target;
            return;
        }

        switch (d.Type)
        {
            case SystemDescriptorType.CallGate16 or SystemDescriptorType.CallGate32:
                {
                    var (codeSelector, code) = CheckCallGate(selector, d);
                    if (code.Dpl > Cpl)
                        throw CpuFault.GP(SelectorErrorCode(codeSelector, false));
                    if (!code.Present)
                        throw new CpuFault(X86Vector.NP, SelectorErrorCode(codeSelector, false));
                    if (!code.Conforming && code.Dpl < Cpl)
                    {
                        CallGateMorePrivilege(d, codeSelector, code);
                        return;
                    }

                    // SDM: CALL, SAME-PRIVILEGE: room for CS:EIP (#SS(0)), then the gate's offset
                    // against the code segment limit (#GP(0)).
                    int size = CallGateSize(d);
                    CheckStackWritable(2 * size);
                    ulong target = CheckCodeLimit(code, GateTarget(d));
                    PushReturnAddress(size);
                    CommitCodeSegment(codeSelector, code, Cpl);
                    NextRip = target;
                    return;
                }

            default:
                FarTransferToTask(selector, d, TaskSwitchReason.Call);
                return;
        }
    }

    /// <summary>
    /// SDM: JMP/CALL, first checks: a null selector is #GP(0), one beyond its table's limit
    /// #GP(selector), and anything but a code segment, call gate, task gate or TSS #GP(selector).
    /// </summary>
    private SegmentDescriptor ReadFarTarget(ushort selector)
    {
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        var d = ReadDescriptor(selector);
        bool valid = d.IsCode || (d.IsSystem && d.Type is SystemDescriptorType.CallGate16 or SystemDescriptorType.CallGate32
            or SystemDescriptorType.TaskGate or SystemDescriptorType.Tss16Available or SystemDescriptorType.Tss16Busy
            or SystemDescriptorType.Tss32Available or SystemDescriptorType.Tss32Busy);
        if (!valid)
            throw CpuFault.GP(SelectorErrorCode(selector, false));
        return d;
    }

    /// <summary>
    /// SDM: JMP/CALL to a code segment directly: conforming needs DPL &lt;= CPL, nonconforming
    /// RPL &lt;= CPL and DPL = CPL (#GP(selector)); then present (#NP(selector)). CPL never changes.
    /// </summary>
    private void CheckDirectCodeTarget(ushort selector, SegmentDescriptor d)
    {
        if (d.Conforming ? d.Dpl > Cpl : ((selector & 3) > Cpl || d.Dpl != Cpl))
            throw CpuFault.GP(SelectorErrorCode(selector, false));
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(selector, false));
    }

    /// <summary>SDM: JMP/CALL: outside 64-bit mode the new EIP must lie within the new code segment's limit, else #GP(0).</summary>
    private static ulong CheckCodeLimit(SegmentDescriptor code, ulong target)
    {
        if (target > code.EffectiveLimit)
            throw CpuFault.GP(0);
        return target;
    }

    /// <summary>
    /// SDM: CALL/JMP, CALL-GATE, the checks shared by both: gate DPL &lt; CPL or &lt; RPL is
    /// #GP(gate selector), a not-present gate #NP(gate selector), a null code-segment selector
    /// #GP(0), one beyond its table's limit or naming something other than code #GP(code selector).
    /// The caller checks the code segment's DPL and presence.
    /// </summary>
    private (ushort Selector, SegmentDescriptor Code) CheckCallGate(ushort gateSelector, SegmentDescriptor gate)
    {
        if (gate.Dpl < Cpl || gate.Dpl < (gateSelector & 3))
            throw CpuFault.GP(SelectorErrorCode(gateSelector, false));
        if (!gate.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(gateSelector, false));
        ushort codeSelector = gate.GateSelector;
        if ((codeSelector & 0xFFFC) == 0)
            throw CpuFault.GP(0);
        var code = ReadDescriptor(codeSelector);
        if (!code.IsCode)
            throw CpuFault.GP(SelectorErrorCode(codeSelector, false));
        return (codeSelector, code);
    }

    private static int CallGateSize(SegmentDescriptor gate) => gate.Type == SystemDescriptorType.CallGate32 ? 4 : 2;

    /// <summary>The gate's entry point: a 16-bit gate holds only a 16-bit offset.</summary>
    private static ulong GateTarget(SegmentDescriptor gate) =>
        gate.Type == SystemDescriptorType.CallGate32 ? gate.GateOffset : gate.GateOffset & 0xFFFF;

    /// <summary>
    /// SDM: CALL, MORE-PRIVILEGE (vol. 3, 5.8.5 and figure 5-13): SS:ESP for the code segment's
    /// DPL from the current TSS; the new SS is checked (#TS(new SS), not present #SS(new SS)), the
    /// new stack must hold the frame (#SS(new SS)), the gate's offset the code limit (#GP(0)).
    /// Then the caller's SS, ESP, the gate's count of parameters (words for a 16-bit gate, dwords
    /// for a 32-bit one) copied from the caller's stack, CS and EIP go on the new stack.
    /// </summary>
    private void CallGateMorePrivilege(SegmentDescriptor gate, ushort codeSelector, SegmentDescriptor code)
    {
        int newCpl = code.Dpl;
        var (ssSelector, newSp) = ReadTssStack(newCpl, external: false);
        uint ssError = SelectorErrorCode(ssSelector, false);
        var stack = CheckInnerStackSegment(ssSelector, newCpl, external: false);

        int size = CallGateSize(gate);
        int count = gate.GateParameterCount;
        gateStack.Load((ushort)ssSelector, stack);
        ulong mask = gateStack.DefaultBig ? 0xFFFFFFFFul : 0xFFFFul;
        newSp &= mask;
        int frameBytes = (4 + count) * size;
        ulong frameBottom = (newSp - (ulong)frameBytes) & mask;
        ulong first = CheckedLinear(gateStack, X86Vector.SS, ssError, frameBottom, frameBytes, AccessKind.Write);
        if ((Cr0Value & Cr0.PG) != 0)
        {
            _ = TranslateImplicit(first, AccessKind.Write);
            _ = TranslateImplicit(first + (ulong)frameBytes - 1, AccessKind.Write);
        }

        ulong target = CheckCodeLimit(code, GateTarget(gate));

        // The parameters are read from the caller's stack at the caller's privilege: a fault
        // there is the caller's (#SS(0) or #PF), and nothing has changed yet.
        ulong oldSp = StackPointer;
        ulong oldMask = SizeMask(StackAddressSize);
        Span<ulong> parameters = stackalloc ulong[32];
        for (int n = 0; n < count; n++)
            parameters[n] = ReadLogical(SS, (oldSp + (ulong)(n * size)) & oldMask, size);

        ulong at = PushOnGateStack(newSp, Segments[SS].Selector, size, ssError);
        at = PushOnGateStack(at, gpr[RSP] & oldMask, size, ssError);
        for (int n = count - 1; n >= 0; n--)
            at = PushOnGateStack(at, parameters[n], size, ssError);
        at = PushOnGateStack(at, Segments[CS].Selector, size, ssError);
        at = PushOnGateStack(at, NextRip, size, ssError);

        SetAccessed(ssSelector, stack);
        Segments[SS].CopyFrom(gateStack);
        WriteGpr(RSP, gateStack.DefaultBig ? 4 : 2, at);
        CommitCodeSegment(codeSelector, code, newCpl);
        NextRip = target;
    }

    private ulong PushOnGateStack(ulong sp, ulong value, int size, uint ssError)
    {
        ulong at = (sp - (ulong)size) & (gateStack.DefaultBig ? 0xFFFFFFFFul : 0xFFFFul);
        WriteImplicit(CheckedLinear(gateStack, X86Vector.SS, ssError, at, size, AccessKind.Write), size, value & SizeMask(size));
        return at;
    }

    /// <summary>JMP/CALL to a task gate or a TSS descriptor: the transfer's own checks, then the task switch.</summary>
    private void FarTransferToTask(ushort selector, SegmentDescriptor d, TaskSwitchReason reason)
    {
        if (d.Type == SystemDescriptorType.TaskGate)
        {
            SwitchTask(CheckTaskGate(selector, d), reason, NextRip);
            return;
        }

        CheckTssTarget(selector, d);
        SwitchTask(selector, reason, NextRip);
    }

    /// <summary>
    /// SDM: JMP/CALL, TASK-GATE: gate DPL &lt; CPL or &lt; RPL is #GP(gate selector), not present
    /// #NP(gate selector); the TSS selector it holds must name an available TSS in the GDT
    /// (#GP(TSS selector)) that is present (#NP(TSS selector)). Returns the TSS selector.
    /// </summary>
    private ushort CheckTaskGate(ushort gateSelector, SegmentDescriptor gate)
    {
        if (gate.Dpl < Cpl || gate.Dpl < (gateSelector & 3))
            throw CpuFault.GP(SelectorErrorCode(gateSelector, false));
        if (!gate.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(gateSelector, false));
        ushort tss = gate.GateSelector;
        uint error = SelectorErrorCode(tss, false);
        if ((tss & 4) != 0)
            throw CpuFault.GP(error);
        var d = ReadDescriptor(tss);
        if (!d.IsSystem || d.Type is not (SystemDescriptorType.Tss16Available or SystemDescriptorType.Tss32Available))
            throw CpuFault.GP(error);
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, error);
        return tss;
    }

    /// <summary>
    /// SDM: JMP/CALL, TASK-STATE-SEGMENT: DPL &lt; CPL or &lt; RPL, or a busy TSS, is
    /// #GP(TSS selector); not present is #NP(TSS selector).
    /// </summary>
    private void CheckTssTarget(ushort selector, SegmentDescriptor d)
    {
        bool available = d.Type is SystemDescriptorType.Tss16Available or SystemDescriptorType.Tss32Available;
        if (d.Dpl < Cpl || d.Dpl < (selector & 3) || !available)
            throw CpuFault.GP(SelectorErrorCode(selector, false));
        if (!d.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(selector, false));
    }

    /// <summary>Pushes CS then the return EIP, each in a slot of <paramref name="size"/> bytes (room already checked).</summary>
    private void PushReturnAddress(int size)
    {
        Push(Segments[CS].Selector, size);
        Push(NextRip & SizeMask(size), size);
    }
}
