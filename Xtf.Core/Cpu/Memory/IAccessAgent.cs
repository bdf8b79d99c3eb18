namespace Xtf.Core.Cpu.Memory;

/// <summary>
/// Carries out the accesses of the instruction the processor is executing on another's behalf:
/// a hypervisor's instruction emulator, which shares the processor's instruction semantics but
/// segments, translates and performs each access its own way (Xen: x86_emulate's ops->read,
/// ->write and ->read_io, through hvmemul_virtual_to_linear, guest_walk_tables and the I/O
/// handlers). While one is attached (<see cref="X86Cpu.AccessAgent"/>), every logical-to-linear
/// step of an explicit access, every linear-to-physical step (implicit accesses included) and
/// every port and MSR access goes to it: the processor's segment checks, alignment check, data
/// breakpoints and TLB are not used. What the agent does not do, the access does not get.
/// </summary>
public interface IAccessAgent : IIoPorts
{
    /// <summary>
    /// Logical to linear address of an access of <paramref name="size"/> bytes through user segment
    /// register <paramref name="seg"/> (<see cref="X86Cpu.ES"/>..<see cref="X86Cpu.GS"/>); a
    /// violation throws the <see cref="CpuFault"/> the agent raises.
    /// </summary>
    ulong Linear(int seg, ulong offset, int size, AccessKind kind);

    /// <summary>
    /// Linear to physical address; <paramref name="implicitAccess"/> marks a system-segment access
    /// (descriptor tables, the TSS). The agent decides the access's privilege itself. A fault
    /// throws <see cref="CpuFault"/> (#PF with its error code and CR2).
    /// </summary>
    ulong Translate(ulong linear, AccessKind kind, bool implicitAccess);

    /// <summary>
    /// RDMSR as the instruction makes it, explicit or implied (SYSCALL's STAR, ...): Xen's
    /// ->read_msr. <see cref="X86Cpu.ReadProcessorMsr"/> reads what the processor holds. False is #GP(0).
    /// </summary>
    bool TryReadMsr(uint index, out ulong value);

    /// <summary>WRMSR as the instruction makes it: Xen's ->write_msr. False is #GP(0).</summary>
    bool TryWriteMsr(uint index, ulong value);
}
