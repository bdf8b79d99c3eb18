using Iced.Intel;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Interrupts;

namespace Xtf.Core.Cpu;

/// <summary>
/// The processor side of a hypervisor completing an intercepted instruction itself: it may run an
/// instruction with the processor's semantics, changes architectural state as the instruction
/// would, and injects at most one event, delivered at VM entry through the IDT (SDM vol. 3, 27.6;
/// APM vol. 2, 15.20). The exit ends the intercepted instruction: it retires without the
/// processor's own debug traps, which are the hypervisor's to inject.
/// </summary>
public sealed partial class X86Cpu
{
    private InjectedEvent? injected;

    /// <summary>
    /// True while an event injected at VM entry is being delivered. The exception bitmap is
    /// consulted for exceptions that occur in VMX non-root operation, not for an event the VM
    /// entry injects (SDM vol. 3, "Event Injection" in the VM-entry chapter), so
    /// <see cref="ICpuIntercepts.DeliverEvent"/> can tell it from one the guest raised itself.
    /// </summary>
    public bool DeliveringInjectedEvent { get; private set; }

    private readonly record struct InjectedEvent(int Vector, uint? ErrorCode, EventKind Kind, ulong ReturnRip, ulong Cr2);

    /// <summary>Signals the execution loop that an intercept completed the instruction (see <see cref="ICpuIntercepts.InvalidOpcode"/>).</summary>
    internal sealed class InterceptCompleted : Exception
    {
    }

    /// <summary>
    /// Injects an event for delivery when the current intercept returns. <paramref name="returnRip"/>
    /// is the RIP the frame saves: the instruction for a fault, the next instruction for a trap or
    /// software interrupt. CR2 is loaded with <paramref name="cr2"/> for #PF. One event per exit.
    /// </summary>
    public void InjectEvent(int vector, uint? errorCode, EventKind kind, ulong returnRip, ulong cr2 = 0)
    {
        if (injected is not null)
            throw new InvalidOperationException("an event is already being injected");
        injected = new InjectedEvent(vector, errorCode, kind, returnRip, cr2);
    }

    /// <summary>
    /// Executes <paramref name="insn"/> at RIP with the processor's semantics (for a hypervisor's
    /// emulator that shares them). Faults propagate as <see cref="CpuFault"/> with nothing committed;
    /// no debug trap is taken.
    /// </summary>
    public void ExecuteInstruction(in Instruction insn)
    {
        // EIP is not truncated to 16 bits in 16-bit code (see Step).
        NextRip = Rip + (ulong)insn.Length;
        if (Bitness != 64)
            NextRip &= 0xFFFFFFFF;
        InstructionTable.Execute(this, in insn);
        Rip = NextRip;
    }

    /// <summary>
    /// The intercepted instruction retired; the injected event, if any, is delivered now. A fault
    /// while delivering it is handled as one during the delivery of that event (SDM table 6-5).
    /// </summary>
    private StopReason? CompleteIntercept()
    {
        budget--;
        debugShadow = false;
        heldDebugTraps = 0;
        if (injected is not { } e)
            return null;
        injected = null;
        if (e.Kind == EventKind.Exception)
        {
            Rip = e.ReturnRip;

            // As for a fault the processor detects (18.3.1.1), the pushed EFLAGS has RF set.
            if (X86VectorInfo.IsFaultClass(e.Vector))
                Eflags |= RFlags.RF;
            return DeliverFault(new CpuFault((X86Vector)e.Vector, e.ErrorCode) { FaultAddress = e.Cr2 });
        }

        try
        {
            DeliveringInjectedEvent = true;
            DeliverEvent(e.Vector, e.ErrorCode, e.Kind, e.ReturnRip);
            return null;
        }
        catch (CpuFault fault)
        {
            // The frame of a fault in delivery saves the address of the instruction, and, as for
            // a fault of the instruction itself (18.3.1.1), its EFLAGS image has RF set.
            Eflags |= RFlags.RF;
            return DeliverFault(fault);
        }
        finally
        {
            DeliveringInjectedEvent = false;
        }
    }
}
