using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Xen.Emulation;
using Xtf.Core.Xen.Pv.Traps;

namespace Xtf.Core.Xen.Pv.PrivilegedOps;

/// <summary>What the emulator made of one instruction (x86_emulate's return codes, as pv_emulate_privileged_op uses them).</summary>
internal enum PrivOpResult
{
    /// <summary>X86EMUL_UNHANDLEABLE: not emulated; the #GP(0) is bounced to the guest as it came.</summary>
    Unhandleable,

    /// <summary>X86EMUL_OKAY / X86EMUL_DONE: the instruction retired; the guest resumes after it.</summary>
    Done,
}

/// <summary>
/// pv_emulate_privileged_op (xen/arch/x86/pv/emul-priv-op.c): a #GP(0) from a PV guest. The
/// instruction is fetched through the guest's page tables at the guest's privilege and decoded;
/// only the forms emul-priv-op.c's validate() admits are emulated: IN/OUT/INS/OUTS, CLI/STI,
/// CLTS, WBINVD, MOV to/from CR and DR, RDMSR/WRMSR, RDTSC, CPUID. x86_emulate's mode_ring0()
/// sees the guest kernel as ring 0 (read_segment fakes a DPL of 0 for SS in guest kernel mode),
/// so the system instructions raise #GP(0) from user mode. Anything else (HLT included: current
/// Xen's validate() does not admit it) is not emulated and the #GP(0) is bounced unchanged.
/// Exceptions the emulation raises are injected with RIP at the instruction; an emulated
/// instruction retires with RF clear and, under TF or a matching I/O breakpoint, a #DB trap.
/// </summary>
internal sealed partial class PrivilegedOpEmulator
{
    private readonly PvDomain d;
    private readonly InstructionFetch fetch;
    private readonly Decoder decoder32, decoder64;

    public PrivilegedOpEmulator(PvDomain domain)
    {
        d = domain;
        fetch = new InstructionFetch(domain.Cpu);
        decoder32 = Decoder.Create(32, fetch);
        decoder64 = Decoder.Create(64, fetch);
    }

    private X86Cpu Cpu => d.Cpu;

    /// <summary>x86_emulate's mode_ring0() for a PV guest: guest kernel mode.</summary>
    private bool Ring0 => d.InGuestKernelMode;

    /// <summary>Instructions emulated so far.</summary>
    public long Emulated { get; private set; }

    /// <summary>DR6 bits of I/O breakpoints the instruction hit (check_guest_io_breakpoint), delivered as a #DB trap after it.</summary>
    private uint breakpointMatch;

    /// <summary>A REP string stopped early: the guest resumes at the same instruction.</summary>
    private bool restart;

    public bool Emulate(GuestFrame frame)
    {
        var cpu = Cpu;
        int bitness = cpu.Bitness;
        fetch.Reset(frame.Rip, bitness == 64 ? ulong.MaxValue : 0xFFFFFFFF);
        var decoder = bitness == 64 ? decoder64 : decoder32;
        decoder.IP = frame.Rip;
        decoder.Decode(out var insn);
        if (fetch.Fault is { } fetchFault && (insn.IsInvalid || decoder.LastError == DecoderError.NoMoreBytes))
        {
            // insn_fetch: a copy that faults is #PF with error code 0 at the byte that failed.
            Inject(fetchFault.Vector == X86Vector.PF ? new CpuFault(X86Vector.PF, 0) { FaultAddress = fetchFault.FaultAddress } : fetchFault, frame);
            return true;
        }

        if (insn.IsInvalid)
            return false;

        breakpointMatch = 0;
        restart = false;
        PrivOpResult result;
        try
        {
            result = Execute(in insn);
        }
        catch (CpuFault fault)
        {
            Inject(fault, frame);
            return true;
        }

        if (result == PrivOpResult.Unhandleable)
            return false;
        Emulated++;
        Retire(frame, restart ? frame.Rip : frame.Rip + (ulong)insn.Length);
        return true;
    }

    private PrivOpResult Execute(in Instruction i)
    {
        // x86_emulate: LOCK on anything but a memory read-modify-write is #UD.
        if (i.HasLockPrefix)
            throw CpuFault.UD();
        switch (i.Mnemonic)
        {
            case Mnemonic.In or Mnemonic.Out:
                return PortInOut(in i);
            case Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd:
                return InputString(in i);
            case Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd:
                return OutputString(in i);
            case Mnemonic.Cli or Mnemonic.Sti:
                // validate(): allowed as a NOP when iopl_ok; the upcall mask is deliberately not
                // changed ("too dangerous": the guest could not re-enable events with POPF).
                return d.IoplOk ? PrivOpResult.Done : PrivOpResult.Unhandleable;
            case Mnemonic.Mov when IsControlRegister(i.Op0Register) || IsControlRegister(i.Op1Register):
                return MoveControlRegister(in i);
            case Mnemonic.Mov when IsDebugRegister(i.Op0Register) || IsDebugRegister(i.Op1Register):
                return MoveDebugRegister(in i);
            case Mnemonic.Clts:
                // x86_emulate: read CR0, write it back with TS clear (do_fpu_taskswitch(0)).
                RequireRing0();
                return WriteCr(0, GuestCr0 & ~Cr0.TS) ? PrivOpResult.Done : PrivOpResult.Unhandleable;
            case Mnemonic.Wbinvd:
                // _wbinvd: a domain without cache-flush permission has it ignored.
                RequireRing0();
                return PrivOpResult.Done;
            case Mnemonic.Rdmsr:
                return ReadMsr();
            case Mnemonic.Wrmsr:
                return WriteMsr();
            case Mnemonic.Rdtsc:
                // SDM vol. 2, RDTSC: #GP(0) when CR4.TSD is set and CPL > 0 (the guest's CR4).
                if ((GuestCr4 & Cr4.TSD) != 0 && !Ring0)
                    throw CpuFault.GP(0);
                SetEdxEax(Cpu.TimeStampCounter);
                return PrivOpResult.Done;
            case Mnemonic.Cpuid:
                {
                    // x86_emulate's CPUID: the guest's own CPUID faulting outside ring 0 is #GP(0);
                    // then guest_cpuid, the domain's policy (Xen's leaves included).
                    d.CpuidFaulting.CheckCpuid(guestKernel: Ring0);
                    var r = PvDomain.EmulatedCpuid(Cpu.Eax, Cpu.Ecx);
                    SetGpr32(X86Cpu.RAX, r.Eax);
                    SetGpr32(X86Cpu.RBX, r.Ebx);
                    SetGpr32(X86Cpu.RCX, r.Ecx);
                    SetGpr32(X86Cpu.RDX, r.Edx);
                    return PrivOpResult.Done;
                }

            default:
                return PrivOpResult.Unhandleable;
        }
    }

    /// <summary>x86_emulate: the system instructions need mode_ring0(), else #GP(0).</summary>
    private void RequireRing0()
    {
        if (!Ring0)
            throw CpuFault.GP(0);
    }

    /// <summary>
    /// The instruction retired: RIP after it, RF clear, the registers as the emulation left them
    /// (RSP included). A single-step (TF at the start) or a matched I/O breakpoint sets DR6 and
    /// delivers #DB as a trap, as pv_emulate_privileged_op does with bpmatch.
    /// </summary>
    private void Retire(GuestFrame frame, ulong next)
    {
        ulong rip = Cpu.Bitness == 64 ? next : next & 0xFFFFFFFF;
        var resumed = frame with { Rip = rip, Rflags = frame.Rflags & ~(ulong)RFlags.RF, Rsp = Cpu[X86Cpu.RSP] };
        uint match = breakpointMatch | ((frame.Rflags & RFlags.TF) != 0 ? DebugRegisters.BS : 0);
        if (match != 0)
        {
            Cpu.Dr[6] |= match | DebugRegisters.Dr6Fixed1;
            TrapBounce.Exception(d, (int)X86Vector.DB, null, resumed);
            return;
        }

        d.ExitToGuest(resumed);
    }

    /// <summary>X86EMUL_EXCEPTION: the event is injected with RIP at the instruction (a #PF records CR2 first).</summary>
    private void Inject(CpuFault fault, GuestFrame frame)
    {
        if (fault.Vector == X86Vector.PF)
            Cpu.Cr2 = fault.FaultAddress;
        var at = frame with { Rsp = Cpu[X86Cpu.RSP] };
        TrapBounce.Exception(d, (int)fault.Vector, fault.ErrorCode, at);
    }

    /// <summary>A 32-bit register result: zero-extended in 64-bit mode (SDM vol. 1, 3.4.1.1), the low half otherwise.</summary>
    private void SetGpr32(int index, uint value) => Cpu[index] = value;

    private void SetEdxEax(ulong value)
    {
        SetGpr32(X86Cpu.RAX, (uint)value);
        SetGpr32(X86Cpu.RDX, (uint)(value >> 32));
    }

    /// <summary>The general-purpose register an Iced register names and its width in bytes; (-1, 0) for anything else.</summary>
    private static (int Index, int Bytes) Gpr(Register r) => r switch
    {
        >= Register.RAX and <= Register.R15 => (r - Register.RAX, 8),
        >= Register.EAX and <= Register.R15D => (r - Register.EAX, 4),
        _ => (-1, 0),
    };

    private static bool IsControlRegister(Register r) => r is >= Register.CR0 and <= Register.CR15;

    private static bool IsDebugRegister(Register r) => r is >= Register.DR0 and <= Register.DR15;
}
