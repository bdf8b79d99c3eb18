using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// HLT, LGDT, LIDT and LMSW in the emulator: privileged instructions (SDM vol. 3, 5.9), #GP(0)
/// at CPL &gt; 0, virtual-8086 mode included, before anything else. The fixed emulator shares the
/// processor's semantics. XSA-105: Xen emulated them without that check, so CPL 3 code reaching
/// the emulator could load the GDT and IDT and CR0's low bits, or halt the vCPU; under quirk
/// xsa-105 the emulator does at CPL &gt; 0 what the processor does at CPL 0.
/// </summary>
internal static class SystemInstructions
{
    public static void Install(Action<Mnemonic, EmulationHandler> own)
    {
        own(Mnemonic.Hlt, WithoutCplCheck(Hlt));
        own(Mnemonic.Lgdt, WithoutCplCheck((HvmEmulator e, in Instruction i) => LoadTableRegister(e, in i, e.Cpu.Gdtr)));
        own(Mnemonic.Lidt, WithoutCplCheck((HvmEmulator e, in Instruction i) => LoadTableRegister(e, in i, e.Cpu.Idtr)));
        own(Mnemonic.Lmsw, WithoutCplCheck(Lmsw));
    }

    /// <summary>The quirk's handler at CPL &gt; 0 with xsa-105 on; the processor's semantics otherwise.</summary>
    private static EmulationHandler WithoutCplCheck(EmulationHandler quirk) => (HvmEmulator e, in Instruction i) =>
    {
        if (e.Cpu.Cpl > 0 && e.Options.Has(Quirk.Xsa105))
            quirk(e, in i);
        else
            e.Cpu.ExecuteInstruction(in i);
    };

    /// <summary>
    /// HLT (SDM vol. 2, HLT): the vCPU stops until an interrupt, NMI or reset wakes it, RIP past
    /// the HLT. Xen blocks the vCPU (hvm_hlt), or takes it down when interrupts are disabled;
    /// nothing in this machine ever wakes it, so the run ends as a native HLT's does. Not when the
    /// HLT started with TF set: x86_emulate before 0e442727ce injected the single-step #DB ("Inject
    /// #DB if single-step tracing was enabled at instruction start") and returned
    /// X86EMUL_EXCEPTION, and _hvm_emulate_one returns on that before it looks at
    /// <c>retire.flags.hlt</c>: the HLT retires as a no-op followed by the #DB trap
    /// (<see cref="HvmEmulator.SingleStep"/>, taken when the handler returns).
    /// </summary>
    private static void Hlt(HvmEmulator e, in Instruction i)
    {
        ulong next = e.NextIp(in i);
        e.Cpu.Rip = next;
        if (e.SingleStep)
            return;
        e.Cpu.NextRip = next;
        throw new X86Cpu.HaltException();
    }

    /// <summary>
    /// LGDT/LIDT m16&amp;32 (SDM vol. 2, LGDT/LIDT): the 16-bit limit, then the base (8 bytes in
    /// 64-bit mode, else 4, of which a 16-bit operand size keeps 24 bits). Both are read before
    /// the register changes.
    /// </summary>
    private static void LoadTableRegister(HvmEmulator e, in Instruction i, DescriptorTableRegister reg)
    {
        var cpu = e.Cpu;
        if (i.Op0Kind != OpKind.Memory)
            throw CpuFault.UD();
        int seg = X86Cpu.MemorySegment(i);
        ulong ea = cpu.EffectiveAddress(i);
        ushort limit = (ushort)cpu.ReadLogical(seg, ea, 2);
        ulong @base = cpu.ReadLogical(seg, (ea + 2) & X86Cpu.SizeMask(cpu.AddressSize(i)), cpu.Bitness == 64 ? 8 : 4);
        if (cpu.Bitness != 64 && i.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16)
            @base &= 0xFFFFFF;
        reg.Limit = limit;
        reg.Base = @base;
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>LMSW (SDM vol. 2, LMSW): loads CR0 bits 0-3 (PE, MP, EM, TS) from the source; PE can be set, never cleared.</summary>
    private static void Lmsw(HvmEmulator e, in Instruction i)
    {
        var cpu = e.Cpu;
        ulong msw = cpu.ReadOperand(i, 0, 2) & 0xF;
        cpu.Cr0Value = (cpu.Cr0Value & ~0xEul) | msw | (cpu.Cr0Value & Cr0.PE);
        cpu.UpdateMode();
        cpu.Rip = e.NextIp(in i);
    }
}
