using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Cpu.Tasks;

namespace Xtf.Core.Cpu;

/// <summary>
/// Interrupt and exception delivery in IA-32e mode, 64-bit and compatibility mode alike (SDM vol. 3,
/// 6.14; vol. 2, INT n, IA-32e-MODE and the 64-bit paths of TRAP-OR-INTERRUPT-GATE).
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>
    /// Delivery through a 16-byte IDT gate. The checks come in the order of SDM vol. 2, INT n: the
    /// gate within the IDT limit and a 64-bit interrupt or trap gate (#GP(IDT)), the gate DPL for
    /// software interrupts, present (#NP(IDT)); the code segment as in protected mode, and a 64-bit
    /// one (6.14.1); the stack (RSPn of the 64-bit TSS on a privilege change, ISTn whenever the
    /// gate names one, else the current RSP), aligned down to 16 bytes (6.14.2); the frame
    /// (#SS(EXT) if not canonical); the gate's target offset canonical (#GP(EXT)). Then SS:RSP,
    /// RFLAGS, CS:RIP and the error code go on the stack as 8-byte slots, with or without a
    /// privilege change; a privilege change loads SS with a null selector whose RPL is the new CPL.
    /// </summary>
    private void DeliverLongMode(int vector, uint? errorCode, EventKind kind, ulong returnRip)
    {
        bool ext = kind is not (EventKind.SoftwareInterrupt or EventKind.InjectedSoftwareInterrupt);
        uint idtError = CpuFault.IdtError(vector, ext);

        // SDM 6.14.1: gates are 16 bytes; in IA-32e mode only types 0xE and 0xF exist (task gates
        // and 16-bit gates are reserved types there).
        var gate = ReadIdtGate(vector, 16, idtError);
        ulong gateHigh = ReadImplicit(Idtr.Base + ((uint)vector * 16) + 8, 8);
        if (!gate.IsSystem || gate.Type is not (SystemDescriptorType.InterruptGate64 or SystemDescriptorType.TrapGate64))
            throw CpuFault.GP(idtError);
        if (kind == EventKind.SoftwareInterrupt && gate.Dpl < Cpl)
            throw CpuFault.GP(idtError);
        if (!gate.Present)
            throw new CpuFault(X86Vector.NP, idtError);

        ushort selector = gate.GateSelector;
        if ((selector & 0xFFFC) == 0)
            throw CpuFault.GP(ext ? 1u : 0);
        var code = ReadDescriptor(selector, X86Vector.GP, ext);
        if (!code.IsCode || code.Dpl > Cpl)
            throw CpuFault.GP(SelectorErrorCode(selector, ext));
        if (!code.Present)
            throw new CpuFault(X86Vector.NP, SelectorErrorCode(selector, ext));

        // SDM 6.14.1: "The target code segment referenced by the interrupt gate must be a 64-bit
        // code segment (CS.L = 1, CS.D = 0). If the target is not a 64-bit code segment, a #GP is
        // generated with the IDT vector number reported as the error code."
        if (!code.Is64BitCode)
            throw CpuFault.GP(idtError);

        bool innerLevel = !code.Conforming && code.Dpl < Cpl;
        int newCpl = innerLevel ? code.Dpl : Cpl;

        // SDM 6.14.4 and 6.14.5: the IST, when the gate names one, is used even without a
        // privilege change; otherwise RSPn of the new CPL, or the current stack.
        int ist = gate.GateIst;
        ulong rsp = ist != 0 ? ReadTss64Stack(Tss64.Ist(ist), ext)
            : innerLevel ? ReadTss64Stack(Tss64.Rsp(newCpl), ext)
            : gpr[RSP];

        // SDM 6.14.2: the new RSP is aligned down to 16 bytes before the frame is pushed.
        ulong top = rsp & ~0xFul;
        int slots = errorCode.HasValue ? 6 : 5;
        ulong frameBottom = top - (ulong)(8 * slots);
        ProbeLongModeFrame(frameBottom, top, ext ? 1u : 0);

        ulong target = (ulong)gate.GateOffset | (gateHigh << 32);
        if (!IsCanonical(target))
            throw CpuFault.GP(ext ? 1u : 0);

        // Commit: the frame, then the registers. The frame's SS:RSP are the interrupted ones, in
        // 64-bit and compatibility mode alike.
        ulong at = top;
        foreach (ulong value in (ReadOnlySpan<ulong>)[Segments[SS].Selector, gpr[RSP], Eflags, Segments[CS].Selector, returnRip])
        {
            at -= 8;
            WriteImplicit(at, 8, value);
        }

        if (errorCode is { } ec)
        {
            at -= 8;
            WriteImplicit(at, 8, ec);
        }

        if (innerLevel)
            Segments[SS].LoadNull((ushort)newCpl);
        gpr[RSP] = frameBottom;
        SetAccessed(selector, code);
        Segments[CS].Load((ushort)((selector & 0xFFFC) | newCpl), code);
        Rip = NextRip = target;
        Eflags &= ~(RFlags.TF | RFlags.NT | RFlags.RF | RFlags.VM);
        if (gate.Type == SystemDescriptorType.InterruptGate64)
            Eflags &= ~RFlags.IF;
        UpdateMode();
    }

    /// <summary>
    /// Checks that the 8-byte slots between <paramref name="bottom"/> and <paramref name="top"/>
    /// can take a frame of IA-32e mode, before anything is written: every byte canonical, else
    /// #SS(<paramref name="ssError"/>) (SDM: INT n, "StackAddress is non-canonical"; CALL,
    /// "pushing ... bytes on the stack would use a non-canonical address"), then through paging
    /// as implicit supervisor writes (#PF), the first slot pushed (the highest) before the last.
    /// </summary>
    internal void ProbeLongModeFrame(ulong bottom, ulong top, uint ssError)
    {
        if (!IsCanonical(bottom) || !IsCanonical(top - 1))
            throw new CpuFault(X86Vector.SS, ssError);
        if ((Cr0Value & Cr0.PG) != 0)
        {
            _ = TranslateImplicit(top - 8, AccessKind.Write);
            _ = TranslateImplicit(bottom, AccessKind.Write);
        }
    }
}
