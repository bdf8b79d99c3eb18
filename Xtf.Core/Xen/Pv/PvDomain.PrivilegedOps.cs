namespace Xtf.Core.Xen.Pv;

/// <summary>pv_emulate_privileged_op: a #GP(0) from the guest, tried by the emulator before it is bounced.</summary>
public sealed partial class PvDomain
{
    /// <summary>True when the instruction at <paramref name="frame"/> was emulated and the guest resumed.</summary>
    private bool EmulatePrivilegedOperation(GuestFrame frame) => false;
}
