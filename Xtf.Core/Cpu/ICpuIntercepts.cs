using Iced.Intel;
using Xtf.Core.Cpu.Interrupts;

namespace Xtf.Core.Cpu;

/// <summary>Result of CPUID: the four output registers.</summary>
public readonly record struct CpuidResult(uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary>
/// What the CPU hands to whoever runs it (a hypervisor, or bare hardware): the instructions that
/// a virtualised CPU exits on. The CPU itself knows nothing of Xen.
/// </summary>
public interface ICpuIntercepts
{
    /// <summary>CPUID with EAX=<paramref name="leaf"/> and ECX=<paramref name="subleaf"/>; CPUID always exits under VT-x, so the owner decides every leaf.</summary>
    CpuidResult Cpuid(X86Cpu cpu, uint leaf, uint subleaf);

    /// <summary>
    /// The MSR bitmap: true sends RDMSR/WRMSR of <paramref name="msr"/> to <see cref="TryReadMsr"/>
    /// and <see cref="TryWriteMsr"/> even though the CPU implements it, as a VM exit would (the
    /// hypervisor then applies its own rules and loads the CPU's state directly).
    /// </summary>
    bool InterceptsMsr(uint msr) => false;

    /// <summary>RDMSR of an MSR the CPU does not implement itself, or one <see cref="InterceptsMsr"/> claims; false raises #GP(0).</summary>
    bool TryReadMsr(X86Cpu cpu, uint msr, out ulong value);

    /// <summary>WRMSR of an MSR the CPU does not implement itself, or one <see cref="InterceptsMsr"/> claims; false raises #GP(0).</summary>
    bool TryWriteMsr(X86Cpu cpu, uint msr, ulong value);

    /// <summary>VMCALL/VMMCALL. False: no hypervisor takes it, #UD as on bare hardware.</summary>
    bool Vmcall(X86Cpu cpu);

    /// <summary>
    /// Called before #UD is delivered for the instruction at CS:RIP. True means the intercept
    /// completed it (a VM exit handled by the hypervisor): the architectural state is what the
    /// hypervisor left, with at most one event injected (<see cref="X86Cpu.InjectEvent"/>), and the
    /// instruction retires without the processor's debug traps. False delivers #UD.
    /// </summary>
    bool InvalidOpcode(X86Cpu cpu);

    /// <summary>
    /// An event about to be delivered through the IDT: an exception, INT n/INT3/INTO, ICEBP, or an
    /// injected event, with <paramref name="returnRip"/> the RIP its frame would save. A hypervisor
    /// that owns the IDT and ring 0 itself (Xen's PV guests never run at CPL 0) takes every one:
    /// true means it handled the event (bounced it to the guest kernel, emulated the instruction,
    /// or ended the domain) and the vCPU's state is what it left; false delivers through the IDT.
    /// </summary>
    bool DeliverEvent(X86Cpu cpu, int vector, uint? errorCode, EventKind kind, ulong returnRip) => false;

    /// <summary>
    /// SYSCALL or SYSENTER (<paramref name="instruction"/>) that passed its own #UD/#GP checks and
    /// would enter ring 0. True: the hypervisor that owns ring 0 took it and the instruction is
    /// complete with the state it left; false: the processor transfers to the MSR target.
    /// </summary>
    bool FastSystemCall(X86Cpu cpu, Mnemonic instruction) => false;
}

/// <summary>Bare hardware: nothing intercepts, CPUID reports a plain CPU.</summary>
public sealed class NoIntercepts : ICpuIntercepts
{
    /// <summary>The shared instance (the type is stateless).</summary>
    public static readonly NoIntercepts Instance = new();

    /// <inheritdoc/>
    /// <remarks>Answers <see cref="CpuidLeaves.Native"/>.</remarks>
    public CpuidResult Cpuid(X86Cpu cpu, uint leaf, uint subleaf) => CpuidLeaves.Native(leaf, subleaf);

    /// <inheritdoc/>
    public bool TryReadMsr(X86Cpu cpu, uint msr, out ulong value)
    {
        value = 0;
        return false;
    }

    /// <inheritdoc/>
    public bool TryWriteMsr(X86Cpu cpu, uint msr, ulong value) => false;

    /// <inheritdoc/>
    public bool Vmcall(X86Cpu cpu) => false;

    /// <inheritdoc/>
    public bool InvalidOpcode(X86Cpu cpu) => false;
}
