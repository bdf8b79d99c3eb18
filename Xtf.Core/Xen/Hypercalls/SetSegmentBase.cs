using Xtf.Core.Cpu;
using Xtf.Core.Xen.Pv;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_set_segment_base(which, base) (pv64 only; xen/arch/x86/pv/misc-hypercalls.c
/// do_set_segment_base). A compat guest gets -ENOSYS. SEGBASE_FS (0): the FS base;
/// SEGBASE_GS_USER (1): the user GS base, which the kernel's SWAPGS-equivalent swaps in
/// (here MSR_KERNEL_GS_BASE while the kernel runs); SEGBASE_GS_KERNEL (2): the kernel's (live)
/// GS base; a non-canonical base is -EINVAL. SEGBASE_GS_USER_SEL (3): loads the user %gs
/// selector (RPL forced to 3 unless null) from the GDT/LDT, its base becoming the user GS base
/// while the kernel's stays live; a selector that faults loads null instead (errors were never
/// reported). Other values of which: -EINVAL.
/// </summary>
internal static class SetSegmentBase
{
    public const int Fs = 0, GsUser = 1, GsKernel = 2, GsUserSel = 3;

    public static long Call(PvDomain d, HypercallArgs a)
    {
        if (!d.Is64BitDomain)
            return -XenErrno.ENOSYS;
        var cpu = d.Cpu;
        ulong segBase = a.A2;
        switch ((int)a.A1)
        {
            case Fs or GsUser or GsKernel when !X86Cpu.IsCanonical(segBase):
                return -XenErrno.EINVAL;
            case Fs:
                cpu.Segments[X86Cpu.FS].Base = segBase;
                return 0;
            case GsUser:
                cpu.WriteMsr(X86Cpu.MsrKernelGsBase, segBase);
                d.Vcpu.GsBaseUser = segBase;
                return 0;
            case GsKernel:
                cpu.Segments[X86Cpu.GS].Base = segBase;
                return 0;
            case GsUserSel:
                {
                    ushort selector = (ushort)segBase;
                    if (selector > 3)
                        selector |= 3;
                    var gs = cpu.Segments[X86Cpu.GS];
                    ulong kernelBase = gs.Base;
                    try
                    {
                        cpu.LoadSegment(X86Cpu.GS, selector);
                    }
                    catch (CpuFault)
                    {
                        cpu.LoadSegment(X86Cpu.GS, 0);
                    }

                    d.Vcpu.GsBaseUser = gs.Base;
                    cpu.WriteMsr(X86Cpu.MsrKernelGsBase, gs.Base);
                    gs.Base = kernelBase;
                    return 0;
                }

            default:
                return -XenErrno.EINVAL;
        }
    }
}
