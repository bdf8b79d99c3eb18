using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// Preemption of long hypercalls, one per vCPU. Xen's batch hypercalls (multicall, mmu_update,
/// mmuext_op, console_io write, ...) call hypercall_preempt_check() between units of work and,
/// when it is true, return hypercall_create_continuation(op, format, args...)
/// (xen/arch/x86/hypercall.c): RAX = op, the argument registers get the remaining work
/// (RDI, RSI, RDX, R10, R8 native; EBX, ECX, EDX, ESI, EDI compat), and the hypercall instruction
/// runs again (PV: regs->rip -= 2 over SYSCALL or INT $0x82, pv/hypercall.c; HVM:
/// HVM_HCALL_preempted leaves RIP at the VMCALL). Inside a multicall the continuation goes into
/// the entry's args (mcs->call.args), which do_multicall copies back before preempting itself.
/// <para>
/// Xen's check is true when a softirq or an event is pending. Here it charges one unit of the
/// vCPU's instruction budget per unit of work and is true once the current grant of budget is
/// spent: the point of preemption is deterministic, and the run's budget and timeout bound the
/// host time a hypercall takes however large a count the guest passes.
/// </para>
/// </summary>
public sealed class HypercallPreemption(X86Cpu cpu)
{
    private readonly ulong[] arguments = new ulong[5];

    /// <summary>curr->hcall_preempted: the running hypercall created a continuation.</summary>
    public bool Preempted { get; private set; }

    /// <summary>The continuation's hypercall number.</summary>
    public int Operation { get; private set; }

    /// <summary>The continuation's arguments (unused ones 0).</summary>
    public HypercallArgs Arguments => new(arguments[0], arguments[1], arguments[2], arguments[3], arguments[4]);

    /// <summary>MCSF_in_multicall: a multicall is running on this vCPU.</summary>
    public bool InMulticall { get; internal set; }

    /// <summary>Clears the preempted flag: the start of a hypercall (pv_hypercall, hvm_hypercall) or of a multicall entry.</summary>
    public void Begin() => Preempted = false;

    /// <summary>
    /// hypercall_preempt_check() after one unit of work: charges the unit and says whether to
    /// stop here and continue later. Callers check only between units, never before the first, so
    /// each run of the hypercall makes progress.
    /// </summary>
    public bool Check()
    {
        cpu.ChargeWork(1);
        return cpu.Budget <= 0;
    }

    /// <summary>hypercall_create_continuation(op, ...): records the remaining work and returns op, which the caller returns as the hypercall's value.</summary>
    public long CreateContinuation(int op, params ReadOnlySpan<ulong> args)
    {
        Preempted = true;
        Operation = op;
        Array.Clear(arguments);
        args.CopyTo(arguments);
        return op;
    }

    /// <summary>
    /// After a top-level hypercall: a continuation becomes the guest's registers and RAX = op,
    /// so re-executing the hypercall instruction resumes the work (the caller rewinds RIP).
    /// False when the hypercall completed.
    /// </summary>
    public bool ApplyToRegisters(bool native)
    {
        if (!Preempted)
            return false;
        var a = Arguments;
        if (native)
        {
            cpu[X86Cpu.RAX] = (ulong)Operation;
            cpu[X86Cpu.RDI] = a.A1;
            cpu[X86Cpu.RSI] = a.A2;
            cpu[X86Cpu.RDX] = a.A3;
            cpu[10] = a.A4;
            cpu[8] = a.A5;
        }
        else
        {
            cpu.Eax = (uint)Operation;
            cpu.Ebx = (uint)a.A1;
            cpu.Ecx = (uint)a.A2;
            cpu.Edx = (uint)a.A3;
            cpu.Esi = (uint)a.A4;
            cpu.Edi = (uint)a.A5;
        }

        return true;
    }
}
