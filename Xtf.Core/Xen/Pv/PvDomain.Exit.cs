using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Pv;

/// <summary>Xen's exit path to a PV guest: a real IRETQ at CPL 0 from the hypervisor's stack.</summary>
public sealed partial class PvDomain
{
    /// <summary>Where the exit path's IRETQ notionally sits (Xen's text; never fetched).</summary>
    private const ulong ExitRip = PvAbi.XenPrivateVirtStart + 0xF00;

    /// <summary>
    /// How deep exits whose IRET faulted may nest before we give up: a compat trap table entry
    /// whose code segment IRET refuses bounces its own fault back to itself, which Xen repeats
    /// for ever (each pass is a fresh guest fault); we crash the domain instead of recursing.
    /// </summary>
    private const int MaxFaultingExits = 8;

    private int faultingExits;

    /// <summary>
    /// Returns to <paramref name="frame"/> as restore_all_guest does: RFLAGS with IF set and IOPL
    /// and VM clear (a PV guest always runs with real IF = 1 and IOPL = 0), then IRETQ on Xen's
    /// code segment and stack with Xen's own RFLAGS, so the processor checks the return as it
    /// checks any IRET to an outer level.
    /// Xen's RFLAGS at the IRET have NT (and IF) clear: every way into Xen clears NT (exception
    /// and interrupt delivery by hardware; SYSCALL by XEN_SYSCALL_MASK, xen/arch/x86/include/asm/
    /// processor.h; SYSENTER, which leaves it, explicitly: xen/arch/x86/x86_64/entry.S,
    /// sysenter_entry, "sysenter_nt_set", the XSA-339 fix, which leaves the guest's saved NT
    /// alone), and restore_all_guest runs with interrupts disabled.
    /// A fault on the IRET itself is the guest's (xen/arch/x86/x86_64/entry.S,
    /// exception_with_ints_disabled: an exception at iret_to_guest is re-dispatched by
    /// handle_exception as if it had occurred in guest context, on the frame being returned to),
    /// so do_general_protection and friends bounce it to the guest (#GP(0) for a non-canonical
    /// RIP, #GP/#NP/#SS(selector) for a bad CS or SS).
    /// </summary>
    internal void ExitToGuest(GuestFrame frame)
    {
        if (ShutdownState is not null || DeliverEventUpcall(frame))
            return;
        var cpu = Cpu;
        ulong rflags = (frame.Rflags & ~(RFlags.IOPL | RFlags.VM)) | RFlags.IF | RFlags.Reserved1;
        var cs = cpu.Segments[X86Cpu.CS];
        var guestCs = (cs.Selector, cs.Base, cs.Limit, cs.Attributes, cs.Usable);
        ulong guestRsp = cpu[X86Cpu.RSP], guestRip = cpu.Rip;
        uint guestFlags = cpu.Eflags;
        cs.Load(PvAbi.HypervisorCs, SegmentDescriptor.Code64(0));
        cpu.UpdateMode();
        cpu.Eflags = RFlags.Reserved1;
        ulong sp = XenStackTop - 40;
        ulong physical = (XenStackMfn << 12) + (sp & 0xFFF);
        ReadOnlySpan<ulong> slots = [frame.Rip, frame.Cs, rflags, frame.Rsp, frame.Ss];
        for (int i = 0; i < slots.Length; i++)
            cpu.WritePhysical(physical + (ulong)(8 * i), 8, slots[i]);
        cpu[X86Cpu.RSP] = sp;
        cpu.Rip = ExitRip;
        CpuFault fault;
        try
        {
            cpu.ExecuteInstruction(Iretq);
            return;
        }
        catch (CpuFault f)
        {
            fault = f;
        }

        // Nothing of the IRET was committed: put back the interrupted context the hypervisor
        // was returning from, then handle the fault as the guest's at the frame.
        (cs.Selector, cs.Base, cs.Limit, cs.Attributes, cs.Usable) = guestCs;
        cpu.UpdateMode();
        cpu[X86Cpu.RSP] = guestRsp;
        cpu.Rip = guestRip;
        cpu.Eflags = guestFlags;
        if (faultingExits >= MaxFaultingExits)
        {
            Crash($"fault {fault.Vector}[{fault.ErrorCode:x4}] returning to {frame.Cs:x4}:{frame.Rip:x}, again and again");
            return;
        }

        faultingExits++;
        try
        {
            Exception((int)fault.Vector, fault.ErrorCode, frame with { Rflags = rflags });
        }
        finally
        {
            faultingExits--;
        }
    }

    /// <summary>
    /// Writes the hypercall page: <c>syscall</c> stubs for pv64, <c>int $0x82</c> stubs for
    /// pv32pae, and for pv64 too once its hypercall iopl is above 0 (DESIGN.md section 5: the
    /// 0x82 entry tells 64-bit callers from compat ones by their code segment).
    /// </summary>
    internal void WriteHypercallPage()
    {
        if (HypercallPageMfn == 0)
            return;
        bool int82 = HypercallPrivilege.Enabled && HypercallPrivilege.Iopl > 0;
        Memory.Write(HypercallPageMfn << 12, Is64BitDomain ? HypercallPage.BuildPv64(int82) : HypercallPage.BuildInt82());
    }
}
