using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// INT n, INT3, INTO and ICEBP in the emulator. The hypervisor does not deliver them itself: it
/// injects them, and event injection (AMD SVM EVENTINJ) skips the gate-DPL check that INT n makes,
/// so the emulator makes the checks first, as Xen's svm_emul_swint_injection does: the IDT entry
/// must lie within the IDT limit and be an interrupt, trap or task gate (#GP), software interrupts
/// other than ICEBP need gate DPL &gt;= CPL (#GP), and the gate must be present (#NP); the error
/// code names the IDT entry (SDM vol. 3, 6.13), with EXT set for ICEBP only.
/// </summary>
internal static class SoftwareInterrupts
{
    public static void Install(Action<Mnemonic, EmulationHandler> own)
    {
        own(Mnemonic.Int, IntN);
        own(Mnemonic.Int3, (HvmEmulator e, in Instruction i) => Inject(e, in i, (int)X86Vector.BP, icebp: false));
        own(Mnemonic.Int1, (HvmEmulator e, in Instruction i) => Inject(e, in i, (int)X86Vector.DB, icebp: true));
        own(Mnemonic.Into, Into);
    }

    /// <summary>INT n: #GP(0) in virtual-8086 mode with IOPL &lt; 3 (SDM: INT n), before any gate check.</summary>
    private static void IntN(HvmEmulator e, in Instruction i)
    {
        if (e.Cpu.Virtual8086 && e.Cpu.Iopl < 3 && !WithoutChecks(e))
            throw CpuFault.GP(0);
        Inject(e, in i, i.Immediate8, icebp: false);
    }

    /// <summary>INTO: a software interrupt only when OF is set; the decoder rejects it in 64-bit mode (#UD).</summary>
    private static void Into(HvmEmulator e, in Instruction i)
    {
        if ((e.Cpu.Eflags & RFlags.OF) != 0)
            Inject(e, in i, (int)X86Vector.OF, icebp: false);
        else
            e.Cpu.Rip = e.NextIp(in i);
    }

    private static void Inject(HvmEmulator e, in Instruction i, int vector, bool icebp)
    {
        var cpu = e.Cpu;
        if (cpu.ProtectedMode && !WithoutChecks(e))
            CheckGate(e, vector, icebp);

        // The guest's RIP stays at the instruction, so that a fault while the event is delivered
        // saves it; the event itself returns past the instruction.
        e.Inject(vector, null, icebp ? EventKind.Icebp : EventKind.InjectedSoftwareInterrupt, ReturnIp(e.Cpu, in i));
    }

    /// <summary>
    /// Where the injected event returns: the guest's RIP plus the instruction length, which
    /// x86_emulate hands to inject_sw_interrupt (<c>_regs.eip - ctxt-&gt;regs-&gt;eip</c>, a
    /// uint8_t) and the processor adds at delivery (VM-entry instruction length, SVM NextRIP).
    /// It is not the emulator's written-back IP, so a truncated shadow IP (quirk xsa-186) does
    /// not move it: the length's low byte stays right.
    /// </summary>
    private static ulong ReturnIp(X86Cpu cpu, in Instruction i)
    {
        ulong next = cpu.Rip + (ulong)i.Length;
        return cpu.Bitness == 64 ? next : next & 0xFFFFFFFF;
    }

    /// <summary>
    /// XSA-106 (fixed by Xen 346d454556, "x86emul: only emulate software interrupt injection for
    /// real mode"): before it, x86_emulate's <c>swint:</c> label (INT3, INT n, INTO, ICEBP) called
    /// <c>ops-&gt;inject_sw_interrupt</c> in every mode, and hvmemul_inject_sw_interrupt only
    /// queued the event: no IDT limit, gate type, gate DPL or present check, and no virtual-8086
    /// IOPL check. The fix added <c>fail_if(!in_realmode(ctxt, ops))</c> in front of it. With the
    /// quirk the event is injected as it was, and injection (EVENTINJ) makes no gate-DPL check.
    /// </summary>
    private static bool WithoutChecks(HvmEmulator e) => e.Options.Has(Quirk.Xsa106);

    private static void CheckGate(HvmEmulator e, int vector, bool icebp)
    {
        var cpu = e.Cpu;
        uint error = CpuFault.IdtError(vector, external: icebp);

        // IA-32e mode has 16-byte IDT entries whatever the width of the code (XSA-196: Xen sized
        // them by the code's width, so compatibility-mode code read 8-byte entries).
        bool wide = e.Options.Has(Quirk.Xsa196) ? cpu.Bitness == 64 : cpu.LongMode;
        uint size = wide ? 16u : 8u;
        ulong offset = (ulong)vector * size;
        if (offset + size - 1 > cpu.Idtr.Limit)
            throw CpuFault.GP(error);
        ulong linear = cpu.Idtr.Base + offset;
        var gate = new SegmentDescriptor(cpu.ReadImplicit(cpu.LongMode ? linear : linear & 0xFFFFFFFF, 8));
        bool validType = gate.IsSystem && (wide
            ? gate.Type is SystemDescriptorType.InterruptGate64 or SystemDescriptorType.TrapGate64
            : gate.Type is SystemDescriptorType.TaskGate or SystemDescriptorType.InterruptGate16 or SystemDescriptorType.TrapGate16
                or SystemDescriptorType.InterruptGate32 or SystemDescriptorType.TrapGate32);
        if (!validType)
            throw CpuFault.GP(error);

        // SDM vol. 3, 6.12.1.1: INT n, INT3 and INTO need gate DPL >= CPL (injection does not check).
        if (!icebp && gate.Dpl < cpu.Cpl)
            throw CpuFault.GP(error);
        if (!gate.Present)
            throw new CpuFault(X86Vector.NP, error);
    }
}
