using Xtf.Core.Xen.Pv.PrivilegedOps;

namespace Xtf.Core.Xen.Pv;

/// <summary>pv_emulate_privileged_op: a #GP(0) from the guest, tried by the emulator before it is bounced.</summary>
public sealed partial class PvDomain
{
    private PrivilegedOpEmulator? privilegedOps;

    /// <summary>The privileged-op emulator and the virtual state it keeps (I/O bitmap, CR4, DR7's I/O breakpoints, CMOS index, CF8).</summary>
    internal PrivilegedOpEmulator PrivilegedOps => privilegedOps ??= new PrivilegedOpEmulator(this);

    /// <summary>True when the instruction at <paramref name="frame"/> was emulated (or raised its own exception) and the guest resumed.</summary>
    private bool EmulatePrivilegedOperation(GuestFrame frame) => PrivilegedOps.Emulate(frame);

    /// <summary>
    /// iopl_ok (emul-priv-op.c): the guest kernel counts as CPL 1, or CPL 0 under
    /// VMASST_TYPE_architectural_iopl; user mode as CPL 3. The access is allowed when that CPL
    /// is at most the virtual IOPL.
    /// </summary>
    internal bool IoplOk => (InGuestKernelMode ? (ArchitecturalIopl ? 0 : 1) : 3) <= Vcpu.Iopl;

    /// <summary>The vCPU's CR2 as the guest reads it (pv.ctrlreg[2], mirrored in vcpu_info's arch.cr2).</summary>
    internal ulong ReadVcpuInfoCr2() => Is64BitDomain
        ? Cpu.ReadPhysical(VcpuInfo + 16, 8)
        : Cpu.ReadPhysical(VcpuInfo + 8, 4);
}
