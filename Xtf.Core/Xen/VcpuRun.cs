using System.Diagnostics;
using Xtf.Core.Cpu;
using Xtf.Core.Xen.Pv;

namespace Xtf.Core.Xen;

/// <summary>
/// Runs a domain's vCPU within its instruction budget and wall-clock limit, in chunks so the
/// limit is checked between them, until the machine ends (shutdown, crash, triple fault, a halt
/// nothing can wake, the budget or time spent) or the CPU fetches from the host-gate range. Both
/// our guest runtime (which dispatches the gates) and the toolstack's upstream images (which have
/// none) run through it, so every instance ends for the same reasons, in the same words.
/// <paramref name="interrupt"/>, once cancelled (the runner's SIGINT/SIGTERM grace is over), ends
/// the run at the next chunk with the reason <see cref="InterruptedReason"/>.
/// </summary>
public sealed class VcpuRun(X86Cpu cpu, IXenDomain domain, long budget, TimeSpan? timeout, CancellationToken interrupt = default)
{
    /// <summary>Why a run the caller interrupted stopped: no result line, so a CRASH with this reason.</summary>
    public const string InterruptedReason = "interrupted";

    /// <summary>
    /// Budget units per chunk. A unit is bounded work (one instruction, one iteration of a
    /// repeated string instruction, one fault delivered): tens of ns, a microsecond or so for the
    /// slowest (a fault through the IDT), so the wall-clock limit and the interrupt are checked every
    /// few ms at most.
    /// </summary>
    private const long Chunk = 10_000;

    private readonly Stopwatch clock = new();
    private long spent;

    /// <summary>
    /// Runs until a host-gate fetch (returns null; <see cref="X86Cpu.StopLinearAddress"/> says
    /// where) or the machine's end (returns why). The wall clock starts at the first call.
    /// </summary>
    public string? Run()
    {
        clock.Start();
        while (true)
        {
            if (spent >= budget)
                return $"instruction budget of {budget} exhausted";
            if (timeout is { } late && clock.Elapsed > late)
                return $"timeout of {late.TotalSeconds:0.###} s exceeded";
            if (interrupt.IsCancellationRequested)
                return InterruptedReason;
            long granted = Math.Min(budget - spent, Chunk);
            cpu.Budget = granted;
            var reason = cpu.Run();

            // Budget used, not instructions retired: faults and string iterations count too.
            spent += granted - cpu.Budget;
            switch (reason)
            {
                case StopReason.HostGate:
                    return null;
                case StopReason.BudgetExhausted:
                    break;
                case StopReason.Halted:
                    return $"HLT at {cpu.Rip:x8} with no interrupt source left (IF={(cpu.Eflags & RFlags.IF) >> 9})";
                case StopReason.TripleFault:
                    return "triple fault: the processor entered shutdown";
                case StopReason.StopRequested:
                    if (domain.ShutdownState is { } s)
                    {
                        string why = domain is PvDomain { LastXenMessage: { } m } && s == ShutdownReason.Crash ? $" ({m})" : "";
                        return $"domain shut down: {s.ToString().ToLowerInvariant()}{why}";
                    }

                    break;
            }
        }
    }
}
