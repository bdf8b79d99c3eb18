using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv;

/// <summary>
/// The guest context the hypervisor returns to (the part of struct cpu_user_regs an IRET frame
/// holds): RIP, CS, RFLAGS, RSP, SS.
/// </summary>
public record struct GuestFrame(ulong Rip, ushort Cs, ulong Rflags, ulong Rsp, ushort Ss)
{
    /// <summary>The interrupted context of the vCPU, resuming at <paramref name="rip"/>.</summary>
    public static GuestFrame Capture(X86Cpu cpu, ulong rip) =>
        new(rip, cpu.Segments[X86Cpu.CS].Selector, cpu.Eflags, cpu[X86Cpu.RSP], cpu.Segments[X86Cpu.SS].Selector);
}
