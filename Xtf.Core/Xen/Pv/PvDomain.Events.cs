using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;
using Xtf.Core.Xen.Pv.Traps;

namespace Xtf.Core.Xen.Pv;

/// <summary>
/// Event upcalls and the virtual CR0.TS of a PV vCPU.
/// </summary>
public sealed partial class PvDomain
{
    /// <summary>v->arch.pv.ctrlreg[0]'s TS: set by fpu_taskswitch(1), cleared by fpu_taskswitch(0) and by the #NM it causes.</summary>
    public bool VirtualTs { get; private set; }

    /// <summary>v->arch.pv.dr7_emul: the I/O breakpoint enables of the guest's DR7, which Xen emulates.</summary>
    internal ulong Dr7Emulated { get; set; }

    /// <summary>
    /// test_guest_events on every return to the guest (after a hypercall, a bounce, an iret):
    /// if vcpu_info's evtchn_upcall_pending is set and evtchn_upcall_mask clear, the event
    /// callback is bounced to (TBF_INTERRUPT: events masked, no error code) on top of
    /// <paramref name="frame"/>. Returns true when it did so (the bounce has then exited to
    /// the guest). With no event callback registered nothing is delivered.
    /// </summary>
    internal bool DeliverEventUpcall(GuestFrame frame)
    {
        if (ShutdownState is not null || UpcallPending == 0 || UpcallMask != 0)
            return false;
        if (!Vcpu.Callbacks.TryGetValue(CallbackType.Event, out var cb) || !cb.Present)
            return false;
        TrapBounce.EventUpcall(this, frame);
        return true;
    }

    /// <summary>
    /// HYPERVISOR_fpu_taskswitch(set) (pv/misc-hypercalls.c): set != 0 sets the virtual CR0.TS
    /// and the real one (stts), so the next FPU/SSE instruction raises #NM; 0 clears both.
    /// Always 0. Also what an emulated CLTS (0) or MOV to CR0 does to TS.
    /// </summary>
    public long FpuTaskswitch(bool set)
    {
        VirtualTs = set;
        if (set)
            Cpu.Cr0Value |= Cr0.TS;
        else
            Cpu.Cr0Value &= ~Cr0.TS;
        return 0;
    }

    /// <summary>
    /// do_device_not_available for a PV guest: the hypervisor clears the real CR0.TS (restoring
    /// the FPU state); if the guest had set its virtual TS, #NM is bounced to it and the virtual
    /// TS cleared; otherwise the instruction is simply retried.
    /// </summary>
    internal void DeviceNotAvailable(GuestFrame frame)
    {
        Cpu.Cr0Value &= ~Cr0.TS;
        if (!VirtualTs)
        {
            ExitToGuest(frame);
            return;
        }

        VirtualTs = false;
        TrapBounce.Exception(this, (int)X86Vector.NM, null, frame);
    }
}
