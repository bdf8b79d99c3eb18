using System.Buffers.Binary;
using Xtf.Core.Xen.Events;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_hvm_op(op, arg) for HVMOP_set_param and HVMOP_get_param (public/hvm/hvm_op.h,
/// xen/arch/x86/hvm/hvm.c hvmop_set_param / hvmop_get_param): copy in <c>struct xen_hvm_param
/// { domid_t domid; uint32_t index; uint64_t value; }</c> (-EFAULT), index below HVM_NR_PARAMS
/// (-EINVAL), the domain (-ESRCH; dom0 is PV, so -EINVAL), then hvm_allow_{get,set}_param's list
/// of what a guest may touch of its own params (-EPERM), then copy out (-EFAULT).
/// </summary>
internal static class HvmOp
{
    public const int SetParam = 0, GetParam = 1;

    // HVM_PARAM_VM86_TSS, ACPI_IOPORTS_LOCATION, VM_GENERATION_ID_ADDR, ALTP2M, X87_FIP_WIDTH, VM86_TSS_SIZED.
    private const int Vm86Tss = 15, AcpiIoportsLocation = 19, VmGenerationIdAddr = 34, Altp2m = 35, X87FipWidth = 36, Vm86TssSized = 37;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        ulong op = a.A1;
        if (op is not (SetParam or GetParam))
            return -XenErrno.ENOSYS;
        var s = new byte[16];
        if (!ctx.Guest.TryRead(a.A2, s))
            return -XenErrno.EFAULT;
        ushort domid = BinaryPrimitives.ReadUInt16LittleEndian(s);
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4));
        if (index >= DomainState.HvmParamCount)
            return -XenErrno.EINVAL;
        int rc = ctx.Domain.CheckTarget(domid);
        if (rc != 0)
            return domid == DomainId.Dom0 ? -XenErrno.EINVAL : rc;
        var param = ctx.Domain.HvmParams;
        if (op == SetParam)
        {
            if (!GuestMaySet((int)index))
                return -XenErrno.EPERM;
            param[index] = BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(8));
            return 0;
        }

        if (!GuestMayGet((int)index))
            return -XenErrno.EPERM;
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(8), param[index]);
        return ctx.Guest.TryWrite(a.A2, s) ? 0 : -XenErrno.EFAULT;
    }

    /// <summary>hvm_allow_set_param: "The following parameters can be set by the guest".</summary>
    private static bool GuestMaySet(int index) => index is HvmParam.CallbackIrq or Vm86Tss or Vm86TssSized
        or AcpiIoportsLocation or VmGenerationIdAddr or HvmParam.StoreEvtchn or HvmParam.ConsoleEvtchn or X87FipWidth;

    /// <summary>hvm_allow_get_param: "The following parameters can be read by the guest".</summary>
    private static bool GuestMayGet(int index) => index is HvmParam.CallbackIrq or Vm86Tss or Vm86TssSized
        or AcpiIoportsLocation or VmGenerationIdAddr or HvmParam.StorePfn or HvmParam.StoreEvtchn
        or HvmParam.ConsolePfn or HvmParam.ConsoleEvtchn or Altp2m or X87FipWidth;
}
