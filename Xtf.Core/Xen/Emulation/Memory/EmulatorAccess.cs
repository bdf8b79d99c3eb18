using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Xen.Emulation.Memory;

/// <summary>
/// The HVM emulator's memory and I/O ops (hvm/emulate.c hvm_emulate_ops): ->read, ->write and
/// ->insn_fetch segment through <see cref="HvmSegmentation"/> and translate through
/// <see cref="GuestPageWalk"/> (paging_gva_to_gfn), never through the processor's segment checks
/// or TLB; ->read_io and ->write_io reach the same port handlers the processor's I/O exits do
/// (hvmemul_do_pio, hvm_io_intercept); ->read_msr and ->write_msr are hvm_msr_read_intercept and
/// hvm_msr_write_intercept: the domain's MSRs (guest_rdmsr, the vmx intercepts) and the vCPU's
/// own MSR state, which is where the processor's intercept path ends up as well. Attached to the processor for the one instruction being
/// emulated, so the instruction's semantics stay the processor's and every effect is Xen's.
/// </summary>
internal sealed class EmulatorAccess(X86Cpu cpu, IIoPorts ports, bool hap, HypervisorOptions options) : IAccessAgent
{
    /// <inheritdoc/>
    public ulong Linear(int seg, ulong offset, int size, AccessKind kind) => HvmSegmentation.Linear(cpu, seg, offset, size, kind, options.Has(Quirk.Xsa191));

    /// <inheritdoc/>
    /// <remarks>
    /// __hvmemul_read / hvmemul_write: PFEC_page_present, PFEC_write_access for a write,
    /// PFEC_insn_fetch for a fetch, and PFEC_implicit for a system-segment access or else
    /// PFEC_user_mode when SS.DPL is 3. Without CR0.PG the address is the guest-physical one
    /// (hap_p2m_ga_to_gfn_real_mode).
    /// </remarks>
    public ulong Translate(ulong linear, AccessKind kind, bool implicitAccess)
    {
        if ((cpu.Cr0Value & Cr0.PG) == 0)
            return linear;
        uint pfec = GuestPageWalk.PfecPresent;
        if (kind == AccessKind.Write)
            pfec |= GuestPageWalk.PfecWrite;
        else if (kind == AccessKind.Execute)
            pfec |= GuestPageWalk.PfecInsnFetch;
        if (implicitAccess)
            pfec |= GuestPageWalk.PfecImplicit;
        else if (cpu.Segments[X86Cpu.SS].Dpl == 3)
            pfec |= GuestPageWalk.PfecUser;
        return GuestPageWalk.Translate(cpu, hap, linear, pfec);
    }

    /// <inheritdoc/>
    public uint In(ushort port, int size) => ports.In(port, size);

    /// <inheritdoc/>
    public void Out(ushort port, int size, uint value) => ports.Out(port, size, value);

    /// <inheritdoc/>
    public bool TryReadMsr(uint index, out ulong value)
    {
        try
        {
            value = cpu.ReadProcessorMsr(index);
            return true;
        }
        catch (CpuFault)
        {
            value = 0;
            return false;
        }
    }

    /// <inheritdoc/>
    public bool TryWriteMsr(uint index, ulong value)
    {
        try
        {
            cpu.WriteProcessorMsr(index, value);
            return true;
        }
        catch (CpuFault)
        {
            return false;
        }
    }
}
