using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv;

/// <summary>
/// The vCPU's view in shared_info (vcpu_info[0], public/xen.h): evtchn_upcall_pending at byte 0,
/// evtchn_upcall_mask at byte 1, arch.cr2 at 16 (pv64) or 8 (compat); and the vCPU's modes.
/// </summary>
public sealed partial class PvDomain
{
    /// <summary>vm_assist type VMASST_TYPE_architectural_iopl.</summary>
    public const int VmAssistArchitecturalIopl = 4;

    private ulong VcpuInfo => SharedInfoMfn << 12;

    /// <summary>evtchn_upcall_mask: the guest's virtual "interrupts disabled" (1 masks event upcalls).</summary>
    public byte UpcallMask
    {
        get => (byte)Cpu.ReadPhysical(VcpuInfo + 1, 1);
        set => Cpu.WritePhysical(VcpuInfo + 1, 1, value);
    }

    /// <summary>evtchn_upcall_pending.</summary>
    public byte UpcallPending
    {
        get => (byte)Cpu.ReadPhysical(VcpuInfo, 1);
        set => Cpu.WritePhysical(VcpuInfo, 1, value);
    }

    /// <summary>VMASST_TYPE_architectural_iopl: the kernel counts as CPL 0 for the virtual IOPL, which HYPERVISOR_iret sets.</summary>
    public bool ArchitecturalIopl => (Vcpu.VmAssist & (1ul << VmAssistArchitecturalIopl)) != 0;

    internal void WriteVcpuInfoCr2(ulong cr2)
    {
        if (Is64BitDomain)
            Cpu.WritePhysical(VcpuInfo + 16, 8, cr2);
        else
            Cpu.WritePhysical(VcpuInfo + 8, 4, cr2 & 0xFFFFFFFF);
    }

    /// <summary>
    /// toggle_guest_mode (pv64): kernel and user mode swap, CR3 follows (the kernel or the user
    /// root), and the GS bases swap as SWAPGS would.
    /// </summary>
    internal void ToggleGuestMode()
    {
        Vcpu.KernelMode = !Vcpu.KernelMode;
        LoadCr3();
        var gs = Cpu.Segments[X86Cpu.GS];
        ulong other = Cpu.ReadMsr(X86Cpu.MsrKernelGsBase);
        Cpu.WriteMsr(X86Cpu.MsrKernelGsBase, gs.Base);
        gs.Base = other;
    }
}
