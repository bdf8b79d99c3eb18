using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// SYSCALL in the emulator: the transfer itself is the processor's (SDM vol. 2, SYSCALL), but the
/// single-step trap after it is the emulator's to decide. Hardware takes it on the TF that
/// SYSCALL leaves, after IA32_FMASK, so a kernel that masks TF is not entered with a #DB while
/// still on the user's stack (XSA-204 advisory; XTF tests/xsa-204). Xen decided it on the TF
/// SYSCALL started with, which quirk xsa-204 re-creates.
/// </summary>
internal static class FastSystemCalls
{
    public static void Install(Action<Mnemonic, EmulationHandler> own) => own(Mnemonic.Syscall, Syscall);

    private static void Syscall(HvmEmulator e, in Instruction i)
    {
        e.Cpu.ExecuteInstruction(in i);
        if (!e.Options.Has(Quirk.Xsa204))
            e.SingleStep = (e.Cpu.Eflags & RFlags.TF) != 0;
    }
}
