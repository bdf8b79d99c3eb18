using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Xen.Emulation;
using Xtf.Core.Xen.Hypercalls;
using Xtf.Core.Xen.Pv.Traps;

namespace Xtf.Core.Xen.Pv;

/// <summary>
/// Xen's ring-0 entry points for a PV vCPU: its IDT (exceptions, software interrupts, the
/// <c>int $0x82</c> hypercall gate) and its SYSCALL/SYSENTER entries.
/// </summary>
public sealed partial class PvDomain
{
    /// <summary>HYPERCALL_VECTOR: the compat hypercall gate (DPL 1).</summary>
    public const int HypercallVector = 0x82;

    /// <summary>The legacy system-call vector, whose DPL 3 gate bounces straight to the guest's handler.</summary>
    public const int Int80Vector = 0x80;

    /// <summary>
    /// Where a hypercall returns to, while one runs: HYPERVISOR_iret replaces it, and a
    /// multicall's iret entry with it.
    /// </summary>
    internal GuestFrame ReturnFrame;

    /// <summary>A hypercall that must not write its result to RAX (an iret that restored RAX itself is still written: the result is the saved RAX).</summary>
    internal bool SyscallReturn;

    /// <summary>
    /// An event from the guest. Xen's IDT: #BP and #OF have DPL 3 gates, 0x80 a DPL 3 gate to the
    /// guest's own handler, 0x82 the hypercall gate (DPL 1; our extension opens it to user mode
    /// once the hypercall iopl is 3), every other vector DPL 0, so INT n from the guest is a
    /// #GP((n &lt;&lt; 3) | 2) that do_general_protection turns into the guest's software interrupt
    /// when its trap table allows it.
    /// </summary>
    public bool DeliverEvent(X86Cpu cpu, int vector, uint? errorCode, EventKind kind, ulong returnRip)
    {
        if (ShutdownState is not null)
            return true;
        ulong instructionRip = cpu.Rip;
        var frame = GuestFrame.Capture(cpu, returnRip);
        switch (kind)
        {
            case EventKind.SoftwareInterrupt:
                SoftwareInterrupt(vector, frame, instructionRip);
                break;
            case EventKind.InjectedSoftwareInterrupt:
                TrapBounce.SoftwareInterrupt(this, vector, frame);
                break;
            case EventKind.Icebp:
                TrapBounce.Exception(this, (int)X86Vector.DB, null, frame);
                break;
            default:
                Exception(vector, errorCode, frame);
                break;
        }

        return true;
    }

    private void SoftwareInterrupt(int vector, GuestFrame frame, ulong instructionRip)
    {
        switch (vector)
        {
            case (int)X86Vector.BP or (int)X86Vector.OF:
                // DPL 3 gates; "the DPL specified by the guest OS for these vectors is NOT CHECKED".
                TrapBounce.Exception(this, vector, null, frame);
                return;
            case Int80Vector when Vcpu.TrapTable[Int80Vector].Present:
                TrapBounce.SoftwareInterrupt(this, vector, frame);
                return;
            case HypercallVector when HypercallGateAdmits():
                Hypercall(frame, native: Cpu.Bitness == 64);
                return;
        }

        GeneralProtection((uint)((vector << 3) | 2), frame with { Rip = instructionRip }, frame.Rip);
    }

    /// <summary>
    /// Whether the 0x82 gate admits the caller: the DPL 1 gate admits a compat kernel (ring 1);
    /// with our extension a hypercall iopl of 3 opens it to user mode, and for pv64, whose
    /// kernel runs in ring 3, any iopl above 0 opens it to the kernel (its hypercall page then
    /// uses it).
    /// </summary>
    private bool HypercallGateAdmits()
    {
        if (!InGuestKernelMode)
            return HypercallPrivilege.Enabled && HypercallPrivilege.Iopl == 3;
        return !Is64BitDomain || (HypercallPrivilege.Enabled && HypercallPrivilege.Iopl > 0);
    }

    /// <summary>
    /// do_general_protection for a guest #GP: an IDT error code is a software interrupt the trap
    /// table may permit (permit_softint: DPL &gt;= 1 from the guest kernel, 3 from user mode),
    /// delivered after the instruction; error code 0 goes to the privileged-op emulator; anything
    /// else is bounced as #GP with its error code.
    /// </summary>
    private void GeneralProtection(uint errorCode, GuestFrame frame, ulong afterInstruction)
    {
        if ((errorCode & 3) == 2)
        {
            int vector = (int)(errorCode >> 3);
            var ti = Vcpu.TrapTable[vector];
            if (ti.Dpl >= (InGuestKernelMode ? 1 : 3))
            {
                TrapBounce.SoftwareInterrupt(this, vector, frame with { Rip = afterInstruction });
                return;
            }
        }
        else if (errorCode == 0 && EmulatePrivilegedOperation(frame))
        {
            return;
        }

        TrapBounce.Exception(this, (int)X86Vector.GP, errorCode, frame);
    }

    private void Exception(int vector, uint? errorCode, GuestFrame frame)
    {
        if (vector == (int)X86Vector.GP && errorCode is { } ec)
        {
            GeneralProtection(ec, frame, frame.Rip);
            return;
        }

        if (vector == (int)X86Vector.UD && EmulateForcedCpuid(frame))
            return;
        if (vector == (int)X86Vector.NM)
        {
            DeviceNotAvailable(frame);
            return;
        }

        TrapBounce.Exception(this, vector, errorCode, frame);
    }

    /// <summary>
    /// pv_emulate_forced_invalid_op: a PV guest's <c>ud2a; .ascii "xen"; cpuid</c> is CPUID as the
    /// hypervisor presents it (Xen's leaves and policy), then the guest resumes after it; with the
    /// guest's CPUID faulting on, outside its kernel it is #GP(0) instead. Any
    /// other instruction behind the prefix is an ordinary #UD: PV guests have no general FEP.
    /// </summary>
    private bool EmulateForcedCpuid(GuestFrame frame)
    {
        var sig = ForcedEmulation.Signature;
        Span<byte> bytes = stackalloc byte[sig.Length + 2];
        ulong at = Cpu.Bitness == 64 ? frame.Rip : (Cpu.Segments[X86Cpu.CS].Base + frame.Rip) & 0xFFFFFFFF;
        if (!Guest.TryRead(at, bytes) || !bytes[..sig.Length].SequenceEqual(sig) || bytes[sig.Length] != 0x0F || bytes[sig.Length + 1] != 0xA2)
            return false;
        if (CpuidFaulting.Enabled && !InGuestKernelMode)
        {
            // With the guest's CPUID faulting on outside its kernel: #GP(0) at the CPUID itself,
            // past the signature (regs->rip = eip; pv_inject_hw_exception).
            ulong cpuid = frame.Rip + (ulong)sig.Length;
            TrapBounce.Exception(this, (int)X86Vector.GP, 0, frame with { Rip = Cpu.Bitness == 64 ? cpuid : cpuid & 0xFFFFFFFF });
            return true;
        }

        var r = EmulatedCpuid(Cpu.Eax, Cpu.Ecx);
        Cpu[X86Cpu.RAX] = r.Eax;
        Cpu[X86Cpu.RBX] = r.Ebx;
        Cpu[X86Cpu.RCX] = r.Ecx;
        Cpu[X86Cpu.RDX] = r.Edx;
        ulong next = frame.Rip + (ulong)bytes.Length;
        ExitToGuest(frame with { Rip = Cpu.Bitness == 64 ? next : next & 0xFFFFFFFF, Rflags = frame.Rflags & ~(ulong)RFlags.RF });
        return true;
    }

    /// <summary>guest_kernel_mode(): pv64's tracked kernel mode; for pv32pae, ring 1.</summary>
    public bool InGuestKernelMode => Is64BitDomain ? Vcpu.KernelMode : (Cpu.Cpl & 3) == 1;

    /// <summary>
    /// SYSCALL from pv64: from guest kernel mode a hypercall; from user mode a bounce to the
    /// guest's syscall (or, from compatibility-mode code, syscall32) callback. SYSENTER goes to
    /// the sysenter callback. A missing callback is #UD for SYSCALL and #GP(0) for SYSENTER.
    /// </summary>
    public bool FastSystemCall(X86Cpu cpu, Mnemonic instruction)
    {
        if (ShutdownState is not null)
            return true;
        var frame = GuestFrame.Capture(cpu, cpu.NextRip);

        // SYSCALL keeps no record of the caller's CS and SS: Xen's entry frame has fixed ones,
        // FLAT_KERNEL_CS64 (= FLAT_RING3_CS64) and FLAT_KERNEL_SS from 64-bit code, FLAT_USER_CS32
        // and FLAT_USER_SS32 from compatibility mode (xen/arch/x86/x86_64/entry.S, lstar_enter
        // and cstar_enter; xen/include/public/arch-x86/xen-x86_64.h). A hypercall returns by
        // SYSRET to those; a bounce shows them.
        if (instruction == Mnemonic.Syscall && Is64BitDomain)
        {
            frame = cpu.Bitness == 64
                ? frame with { Cs = PvAbi.FlatRing3Cs64, Ss = PvAbi.FlatRing3Ss64 }
                : frame with { Cs = PvAbi.FlatRing3Cs32On64, Ss = PvAbi.FlatRing3Ds32On64 };
        }

        if (instruction == Mnemonic.Syscall && Is64BitDomain && Vcpu.KernelMode)
        {
            Hypercall(frame, native: true, viaSyscall: true);
            return true;
        }

        TrapBounce.SystemCall(this, instruction, frame, cpu.Rip);
        return true;
    }

    /// <summary>
    /// A hypercall: EAX selects it, arguments in RDI, RSI, RDX, R10, R8 (native) or EBX, ECX,
    /// EDX, ESI, EDI (compat); the result goes to RAX/EAX and the vCPU resumes at
    /// <see cref="ReturnFrame"/>, which HYPERVISOR_iret may have replaced. A SYSCALL-entered
    /// return behaves as SYSRET: RCX = RIP, R11 = RFLAGS.
    /// </summary>
    private void Hypercall(GuestFrame frame, bool native, bool viaSyscall = false)
    {
        Hypercalls++;
        ReturnFrame = frame;
        SyscallReturn = viaSyscall;
        var cpu = Cpu;
        int number = (int)cpu.Eax;
        HypercallArgs args = native
            ? new(cpu[X86Cpu.RDI], cpu[X86Cpu.RSI], cpu[X86Cpu.RDX], cpu[10], cpu[8])
            : new(cpu.Ebx, cpu.Ecx, cpu.Edx, cpu.Esi, cpu.Edi);
        Preemption.Begin();
        long result = HypercallTable.Dispatch(this, number, args);
        if (ShutdownState is not null)
            return;
        if (Preemption.ApplyToRegisters(native))
        {
            // pv_hypercall: SYSCALL and INT $0x82 have trap semantics, so a preempted hypercall
            // rewinds RIP by their length (2) to run the instruction again.
            ReturnFrame = ReturnFrame with { Rip = ReturnFrame.Rip - 2 };
        }
        else if (native)
        {
            cpu[X86Cpu.RAX] = (ulong)result;
        }
        else
        {
            cpu.Eax = (uint)result;
        }

        if (SyscallReturn)
        {
            cpu[X86Cpu.RCX] = ReturnFrame.Rip;
            cpu[11] = (ReturnFrame.Rflags & ~RFlags.RF) | RFlags.IF;
        }

        ExitToGuest(ReturnFrame);
    }
}
