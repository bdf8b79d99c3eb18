namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// vm_assist(cmd, type) = 21 (do_vm_assist, common/domain.c; masks from asm-x86/config.h and
/// arch_vm_assist_valid_mask). The type is checked first: it must be below BITS_PER_LONG and in
/// the domain's valid mask, else -EINVAL. pv64: 4gb_segments (0), 4gb_segments_notify (1),
/// writable_pagetables (2), pae_extended_cr3 (3), architectural_iopl (4), runstate_update_flag
/// (5), m2p_strict (32); pv32pae (compat): those below 32; HVM: runstate_update_flag only. Then
/// VMASST_CMD_enable (0) sets the domain's bit, VMASST_CMD_disable (1) clears it; any other
/// command is -ENOSYS.
/// </summary>
internal static class VmAssist
{
    public const uint CmdEnable = 0, CmdDisable = 1;

    public const int TypePaeExtendedCr3 = 3, TypeArchitecturalIopl = 4, TypeRunstateUpdateFlag = 5, TypeM2pStrict = 32;

    /// <summary>NATIVE_VM_ASSIST_VALID.</summary>
    public const ulong NativeValid = 0x3Ful | (1ul << TypeM2pStrict);

    /// <summary>COMPAT_VM_ASSIST_VALID: the native mask within 32 bits.</summary>
    public const ulong CompatValid = NativeValid & 0xFFFFFFFF;

    /// <summary>HVM_VM_ASSIST_MASK.</summary>
    public const ulong HvmValid = 1ul << TypeRunstateUpdateFlag;

    public static ulong ValidMask(IHypercallContext ctx) => ctx.IsHvm ? HvmValid : ctx.Is64Bit ? NativeValid : CompatValid;

    public static long Call(IHypercallContext ctx, HypercallArgs a)
    {
        uint cmd = (uint)a.A1;
        uint type = (uint)a.A2;
        if (type >= 64 || (ValidMask(ctx) & (1ul << (int)type)) == 0)
            return -XenErrno.EINVAL;
        ulong bit = 1ul << (int)type;

        // An HVM domain's only valid type (runstate_update_flag) has no effect here: no runstate area is modelled.
        var pv = ctx as Pv.PvDomain;
        switch (cmd)
        {
            case CmdEnable:
                if (pv is not null)
                    pv.Vcpu.VmAssist |= bit;
                return 0;
            case CmdDisable:
                if (pv is not null)
                    pv.Vcpu.VmAssist &= ~bit;
                return 0;
            default:
                return -XenErrno.ENOSYS;
        }
    }
}
