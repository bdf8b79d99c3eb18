using System.Runtime.CompilerServices;
using Iced.Intel;
using Xtf.Core.Cpu.Decoding;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>Why <see cref="X86Cpu.Run"/> returned.</summary>
public enum StopReason
{
    /// <summary>The instruction budget ran out.</summary>
    BudgetExhausted,

    /// <summary>An instruction fetch reached the host-gate range (<see cref="X86Cpu.StopAddress"/>).</summary>
    HostGate,

    /// <summary>HLT with no interrupt source that could ever wake the processor.</summary>
    Halted,

    /// <summary>Triple fault: the processor entered shutdown (SDM vol. 3, 6.15, #DF).</summary>
    TripleFault,

    /// <summary>Someone outside the CPU (the hypervisor) asked it to stop.</summary>
    StopRequested,
}

/// <summary>
/// The architectural x86 processor: registers, the execution loop, exception delivery.
/// Instruction semantics live in <c>Execution/</c>, grouped by family.
/// </summary>
public sealed partial class X86Cpu
{
    /// <summary>Segment register numbers as the ModRM sreg field and the TSS order them: indexes into <see cref="Segments"/>.</summary>
    public const int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

    private RegisterFile gpr;
    private readonly DecodeCache decodeCache;
    private bool stopRequested;

    // An instruction that retires takes one from the budget; Retired is kept as the difference, so
    // the hot loop updates a single counter. A faulting instruction uses budget without retiring.
    private long budget = long.MaxValue;
    private long retiredPlusBudget = long.MaxValue;
    private StopReason requestedReason;

    /// <summary>A processor in the power-on state (<see cref="ResetToRealMode"/>) over <paramref name="memory"/> and <paramref name="ports"/>, with no intercepts.</summary>
    public X86Cpu(IPhysicalMemory memory, IIoPorts ports)
    {
        Memory = memory;
        bus = ports;
        decodeCache = new DecodeCache(this, memory.FrameCount);
        for (int i = 0; i < Segments.Length; i++)
            Segments[i] = new SegmentRegister();
        ResetToRealMode();
    }

    /// <summary>Physical address space the CPU's page walks and accesses go to.</summary>
    public IPhysicalMemory Memory { get; }

    /// <summary>I/O port space IN/OUT/INS/OUTS address once their IOPL and I/O bitmap checks pass (the <see cref="AccessAgent"/>, while one is attached).</summary>
    public IIoPorts Ports => AccessAgent ?? bus;

    private readonly IIoPorts bus;

    /// <summary>The owner of the instructions a virtualised CPU exits on (CPUID, unimplemented MSRs, VMCALL, #UD, events); <see cref="NoIntercepts"/> for bare hardware.</summary>
    public ICpuIntercepts Intercepts { get; set; } = NoIntercepts.Instance;

    /// <summary>Instruction pointer: offset in CS of the next instruction at an instruction boundary (EIP/IP zero-extended outside 64-bit mode).</summary>
    public ulong Rip;
    /// <summary>Raw CR0, CR2 (last #PF linear address), CR3 (page-directory base plus PCD/PWT), CR4 and IA32_EFER. Field writes bypass the MOV CR/WRMSR checks and TLB flushes: only the domain builder sets them directly, before the vCPU runs.</summary>
    public ulong Cr0Value, Cr2, Cr3, Cr4Value, EferValue;
    /// <summary>DR0-DR7 by number; DR4/DR5 are never stored (they alias DR6/DR7 or raise #UD per CR4.DE).</summary>
    public readonly ulong[] Dr = new ulong[8];
    /// <summary>ES, CS, SS, DS, FS, GS, indexed by <see cref="ES"/>..<see cref="GS"/>.</summary>
    public readonly SegmentRegister[] Segments = new SegmentRegister[6];
    /// <summary>LDTR and TR: selector plus descriptor cache, loaded by LLDT/LTR or a task switch.</summary>
    public readonly SegmentRegister Ldtr = new(), Tr = new();
    /// <summary>GDTR and IDTR, loaded by LGDT/LIDT.</summary>
    public readonly DescriptorTableRegister Gdtr = new(), Idtr = new();

    /// <summary>Current privilege level (SDM vol. 3, 5.5): CS.RPL in protected mode.</summary>
    public int Cpl { get; private set; }

    /// <summary>Code size of the current mode: 16, 32 or 64.</summary>
    public int Bitness { get; private set; } = 16;

    /// <summary>Instructions retired since creation.</summary>
    public long Retired => retiredPlusBudget - budget;

    /// <summary>Instructions that may still retire before <see cref="StopReason.BudgetExhausted"/>.</summary>
    public long Budget
    {
        get => budget;
        set
        {
            retiredPlusBudget = Retired + value;
            budget = value;
        }
    }

    /// <summary>Physical range whose instruction fetch stops the CPU (host gates).</summary>
    public ulong GateBase { get; set; } = ulong.MaxValue;

    /// <summary>Length in bytes of the host-gate range starting at <see cref="GateBase"/>.</summary>
    public ulong GateSize { get; set; }

    /// <summary>After a <see cref="StopReason.HostGate"/> stop: the physical fetch address.</summary>
    public ulong StopAddress { get; private set; }

    /// <summary>After a <see cref="StopReason.HostGate"/> stop: the linear fetch address.</summary>
    public ulong StopLinearAddress { get; private set; }

    /// <summary>Address of the instruction being executed and of the one after it.</summary>
    internal ulong NextRip;

    internal DecodeCache Decoder => decodeCache;

    /// <summary>CR0.PE is set (protected mode, including virtual-8086 and IA-32e modes).</summary>
    public bool ProtectedMode => (Cr0Value & Cr0.PE) != 0;

    /// <summary>EFER.LMA is set: IA-32e mode (64-bit or compatibility mode by CS.L).</summary>
    public bool LongMode => (EferValue & Efer.LMA) != 0;

    /// <summary>EFLAGS.VM is set: virtual-8086 mode.</summary>
    public bool Virtual8086 => (eflags & RFlags.VM) != 0;

    /// <summary>EFLAGS.IOPL (bits 13:12), 0-3.</summary>
    public int Iopl => (int)((eflags & RFlags.IOPL) >> RFlags.IoplShift);

    /// <summary>Asks <see cref="Run"/> to return <paramref name="reason"/> at the next instruction boundary (callable from intercepts and gate handlers while the CPU runs). <see cref="Run"/> clears the request when it starts, so a request made while the CPU is stopped is dropped.</summary>
    public void RequestStop(StopReason reason = StopReason.StopRequested)
    {
        stopRequested = true;
        requestedReason = reason;
    }

    /// <summary>Power-on state (SDM vol. 3, 9.1.1), real mode at F000:FFF0.</summary>
    public void ResetToRealMode()
    {
        ((Span<ulong>)gpr).Clear();
        Eflags = RFlags.Reserved1;
        Cr0Value = Cr0.ET | Cr0.NW | Cr0.CD;
        Cr2 = Cr3 = Cr4Value = EferValue = 0;
        foreach (var s in Segments)
        {
            s.Selector = 0;
            s.Base = 0;
            s.Limit = 0xFFFF;
            s.Attributes = 0x93;
            s.Usable = true;
        }

        Segments[CS].Selector = 0xF000;
        Segments[CS].Base = 0xFFFF0000;
        Segments[CS].Attributes = 0x9B;
        Rip = 0xFFF0;
        Gdtr.Base = Idtr.Base = 0;
        Gdtr.Limit = Idtr.Limit = 0xFFFF;
        Ldtr.LoadNull(0);
        Tr.LoadNull(0);
        Tr.Attributes = 0x8B;
        Tr.Usable = true;
        Cpl = 0;
        ResetDebugRegisters();
        ResetFpuState();
        UpdateMode();
    }

    /// <summary>
    /// Recomputes CPL and code size after CS, CR0, EFER or EFLAGS.VM changed
    /// (SDM vol. 3, 5.5: CPL is CS.RPL in protected mode, 3 in virtual-8086 mode, 0 in real mode).
    /// </summary>
    public void UpdateMode()
    {
        InvalidateFetchWindow();
        var cs = Segments[CS];
        if (!ProtectedMode)
        {
            Cpl = 0;
            Bitness = cs.DefaultBig ? 32 : 16;
        }
        else if (Virtual8086)
        {
            Cpl = 3;
            Bitness = 16;
        }
        else
        {
            Cpl = cs.Rpl;
            Bitness = LongMode && cs.Long ? 64 : cs.DefaultBig ? 32 : 16;
        }
    }

    /// <summary>Executes instructions until the budget runs out or something stops the CPU.</summary>
    public StopReason Run()
    {
        if (runDepth > 0)
            return RunLoop();

        // Entered from outside: nothing runs out of a dropped code frame any more.
        decodeCache.RecycleRetired();
        runDepth++;
        try
        {
            return RunLoop();
        }
        finally
        {
            runDepth--;
        }
    }

    /// <summary>Nesting of <see cref="Run"/> (a host callback running the CPU again).</summary>
    private int runDepth;

    /// <summary>True inside a nested <see cref="Run"/>: an outer instruction is still executing.</summary>
    internal bool InstructionInFlight => runDepth > 1;

    /// <summary>Frames of decoded code held now, and frame objects allocated (both bounded by <see cref="DecodeCache.Capacity"/>).</summary>
    public (int Resident, int Allocated) DecodedFrames => (decodeCache.ResidentFrames, decodeCache.AllocatedFrames);

    private StopReason RunLoop()
    {
        stopRequested = false;
        while (true)
        {
            if (stopRequested)
            {
                stopRequested = false;
                return requestedReason;
            }

            if (Budget <= 0)
                return StopReason.BudgetExhausted;

            if (CanRunCached)
            {
                if (RunCached() is { } cachedStop)
                    return cachedStop;
                if (stopRequested || Budget <= 0)
                    continue;
            }

            StopReason? stop = Step();
            if (stop is { } reason)
                return reason;
        }
    }

    /// <summary>
    /// Fetches, decodes and executes one instruction, then takes the debug traps it raised; returns
    /// a reason if the CPU stops first. The order at the boundary follows SDM vol. 3, table 6-2:
    /// traps of the previous instruction (delivered when it completed), then instruction
    /// breakpoints, then fetch and decode faults, then faults of execution.
    /// </summary>
    private StopReason? Step()
    {
        // TF and RF (not status flags) are always current in the raw register.
        uint flagsAtStart = eflags;
        dataBreakpointHits = 0;
        try
        {
            // SDM vol. 3, 18.3.1.1: an instruction breakpoint is a fault taken before the
            // instruction executes, unless RF is set; none is recognised in the MOV SS shadow (6.8.3).
            if (BreakpointsEnabled && (flagsAtStart & RFlags.RF) == 0 && !debugShadow
                && MatchInstructionBreakpoints(Rip) is var hits and not 0)
            {
                ConsumeWithoutRetiring();
                debugShadow = false;
                heldDebugTraps = 0;
                return DeliverDebugException(hits);
            }

            ulong linear = CodeLinearAddress(Rip);
            ref readonly Instruction insn = ref FetchFromWindow(linear, out bool hit);
            if (!hit)
            {
                ulong physical = Translate(linear, AccessKind.Execute, Cpl == 3);
                if (physical - GateBase < GateSize)
                {
                    StopAddress = physical;
                    StopLinearAddress = linear;
                    return StopReason.HostGate;
                }

                insn = ref decodeCache.Fetch(Rip, linear, physical, out bool valid);
                if (!valid)
                {
                    RaiseInvalidOpcode();
                    return null;
                }

                OpenFetchWindow(linear, physical);
            }

            NextRip = Rip + (ulong)insn.Length;
            if (Bitness != 64)
            {
                // SDM vol. 3, 5.3: every byte of the instruction must lie within the CS limit, at
                // its untruncated offset. EIP is a 32-bit register in 16-bit code too: only
                // branches of 16-bit operand size truncate it (SDM vol. 2, JMP: "IF OperandSize =
                // 16 THEN EIP <- EIP AND 0000FFFFH"), so a 4 GiB limit runs on past 0xFFFF.
                if (NextRip - 1 > Segments[CS].Limit)
                    throw CpuFault.GP(0);
                NextRip &= 0xFFFFFFFF;
            }

            // SDM vol. 3, 18.3.1.1: RF is cleared at the start of the instruction, after the
            // instruction-breakpoint and CS-limit checks (IRET and POPF then write it as they say).
            eflags &= ~RFlags.RF;
            if ((flagsAtStart & RFlags.TF) != 0)
                NearBranchTaken = false;
            InstructionTable.Execute(this, in insn);
            Rip = NextRip;
            budget--;
            return CompleteDebugTraps(in insn, flagsAtStart);
        }
        catch (CpuFault fault)
        {
            return TakeFault(fault);
        }
        catch (HaltException)
        {
            return Halt();
        }
        catch (InterceptCompleted)
        {
            return CompleteIntercept();
        }
    }

    /// <summary>An instruction faulted: it does not retire, and the fault is delivered.</summary>
    private StopReason? TakeFault(CpuFault fault)
    {
        ConsumeWithoutRetiring();

        // The instruction did not complete: its single-step and data-breakpoint traps, and
        // those held over a MOV SS, are discarded with it.
        debugShadow = false;
        heldDebugTraps = 0;

        // SDM vol. 3, 18.3.1.1: the EFLAGS image of every fault-class exception has RF set
        // (instruction breakpoints, handled above, excepted), so that IRET resumes the faulting
        // instruction without re-triggering its breakpoint.
        Eflags |= RFlags.RF;
        if (fault.Vector == X86Vector.DB)
            Dr[7] &= ~(ulong)DebugRegisters.GD; // 18.2.4: GD is cleared on entry to the #DB handler
        return DeliverFault(fault);
    }

    /// <summary>HLT retired and nothing can wake the processor.</summary>
    private StopReason Halt()
    {
        Rip = NextRip;
        budget--;
        return StopReason.Halted;
    }

    /// <summary>
    /// Work within one instruction beyond the instruction itself (iterations of a repeated string
    /// instruction after the first of a step, units of a hypercall's batch): each unit takes one
    /// from the budget, so the budget bounds the work however the guest spends it, without
    /// counting as a retired instruction.
    /// </summary>
    internal void ChargeWork(long units)
    {
        budget -= units;
        retiredPlusBudget -= units;
    }

    /// <summary>An instruction ended without retiring (it faulted): it still counts against the budget.</summary>
    private void ConsumeWithoutRetiring()
    {
        budget--;
        retiredPlusBudget--;
    }

    /// <summary>#UD for the current instruction, unless an intercept (the hypervisor) takes it.</summary>
    internal void RaiseInvalidOpcode()
    {
        if (Intercepts.InvalidOpcode(this))
            throw new InterceptCompleted();
        throw CpuFault.UD();
    }

    private ulong CodeLinearAddress(ulong rip)
    {
        var cs = Segments[CS];
        if (Bitness == 64)
            return rip;
        if (rip > cs.Limit)
            throw CpuFault.GP(0);
        return (cs.Base + rip) & 0xFFFFFFFF;
    }

    /// <summary>Signals HLT to the execution loop.</summary>
    internal sealed class HaltException : Exception
    {
    }
}
