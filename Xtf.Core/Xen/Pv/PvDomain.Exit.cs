using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Pv;

/// <summary>Xen's exit path to a PV guest: a real IRETQ at CPL 0 from the hypervisor's stack.</summary>
public sealed partial class PvDomain
{
    /// <summary>Where the exit path's IRETQ notionally sits (Xen's text; never fetched).</summary>
    private const ulong ExitRip = PvAbi.XenPrivateVirtStart + 0xF00;

    /// <summary>
    /// Returns to <paramref name="frame"/> as restore_all_guest does: RFLAGS with IF set and IOPL
    /// and VM clear (a PV guest always runs with real IF = 1 and IOPL = 0), then IRETQ on Xen's
    /// code segment and stack, so the processor checks the return as it checks any IRET to an
    /// outer level. A fault there is the hypervisor's failure to return: the domain crashes.
    /// </summary>
    internal void ExitToGuest(GuestFrame frame)
    {
        if (ShutdownState is not null || DeliverEventUpcall(frame))
            return;
        var cpu = Cpu;
        ulong rflags = (frame.Rflags & ~(RFlags.IOPL | RFlags.VM)) | RFlags.IF | RFlags.Reserved1;
        cpu.Segments[X86Cpu.CS].Load(PvAbi.HypervisorCs, SegmentDescriptor.Code64(0));
        cpu.UpdateMode();
        ulong sp = XenStackTop - 40;
        ulong physical = (XenStackMfn << 12) + (sp & 0xFFF);
        ReadOnlySpan<ulong> slots = [frame.Rip, frame.Cs, rflags, frame.Rsp, frame.Ss];
        for (int i = 0; i < slots.Length; i++)
            cpu.WritePhysical(physical + (ulong)(8 * i), 8, slots[i]);
        cpu[X86Cpu.RSP] = sp;
        cpu.Rip = ExitRip;
        try
        {
            cpu.ExecuteInstruction(Iretq);
        }
        catch (CpuFault fault)
        {
            Crash($"fault {fault.Vector}[{fault.ErrorCode:x4}] returning to {frame.Cs:x4}:{frame.Rip:x}");
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
