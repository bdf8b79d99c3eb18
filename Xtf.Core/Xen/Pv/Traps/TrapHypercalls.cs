using System.Buffers.Binary;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv.Traps;

/// <summary>
/// The PV hypercalls that set up exception and event delivery (xen/arch/x86/pv/callback.c,
/// pv/misc-hypercalls.c): set_trap_table, stack_switch, set_callbacks, callback_op.
/// Code selectors get at least the guest kernel's RPL (fixup_guest_code_selector).
/// </summary>
internal static class TrapHypercalls
{
    public const int CallbackOpRegister = 0, CallbackOpUnregister = 1;

    /// <summary>CALLBACKF_mask_events.</summary>
    public const ushort MaskEventsFlag = 1;

    /// <summary>
    /// set_trap_table(traps): NULL clears all 256 entries; otherwise entries are copied in turn
    /// (native: vector, flags, cs, address at 8, 16 bytes; compat: address at 4, 8 bytes) until
    /// one with address 0; a fault is -EFAULT with the earlier entries installed; a non-canonical
    /// native address is -EINVAL.
    /// </summary>
    public static long SetTrapTable(PvDomain d, HypercallArgs a)
    {
        ulong list = d.Is64BitDomain ? a.A1 : a.A1 & 0xFFFFFFFF;
        if (list == 0)
        {
            Array.Clear(d.Vcpu.TrapTable);
            return 0;
        }

        int size = d.Is64BitDomain ? 16 : 8;
        Span<byte> e = stackalloc byte[16];
        for (ulong at = list; ; at += (ulong)size)
        {
            if (!d.Guest.TryRead(at, e[..size]))
                return -XenErrno.EFAULT;
            ulong address = d.Is64BitDomain ? BinaryPrimitives.ReadUInt64LittleEndian(e[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(e[4..]);
            if (address == 0)
                return 0;
            if (d.Is64BitDomain && !X86Cpu.IsCanonical(address))
                return -XenErrno.EINVAL;
            ushort cs = FixupCodeSelector(d, BinaryPrimitives.ReadUInt16LittleEndian(e[2..]));
            d.Vcpu.TrapTable[e[0]] = new TrapInfo(e[1], cs, address);
        }
    }

    /// <summary>stack_switch(ss, sp): the kernel stack for entries from user mode; SS gets at least the kernel's RPL.</summary>
    public static long StackSwitch(PvDomain d, HypercallArgs a)
    {
        d.Vcpu.KernelSs = FixupCodeSelector(d, (ushort)a.A1);
        d.Vcpu.KernelSp = d.Is64BitDomain ? a.A2 : a.A2 & 0xFFFFFFFF;
        return 0;
    }

    /// <summary>
    /// set_callbacks: native (event, failsafe, syscall addresses), compat (event_sel,
    /// event_eip, failsafe_sel, failsafe_eip). Flags are cleared; always 0.
    /// </summary>
    public static long SetCallbacks(PvDomain d, HypercallArgs a)
    {
        var cbs = d.Vcpu.Callbacks;
        if (d.Is64BitDomain)
        {
            cbs[CallbackType.Event] = new Callback(PvAbi.FlatRing3Cs64, a.A1, false);
            cbs[CallbackType.Failsafe] = new Callback(PvAbi.FlatRing3Cs64, a.A2, false);
            cbs[CallbackType.Syscall] = new Callback(PvAbi.FlatRing3Cs64, a.A3, false);
        }
        else
        {
            cbs[CallbackType.Event] = new Callback(FixupCodeSelector(d, (ushort)a.A1), (uint)a.A2, false);
            cbs[CallbackType.Failsafe] = new Callback(FixupCodeSelector(d, (ushort)a.A3), (uint)a.A4, false);
        }

        return 0;
    }

    /// <summary>
    /// callback_op(cmd, arg): register { u16 type; u16 flags; address (native u64 at 8; compat
    /// cs, eip at 4) } or unregister { u16 type }. Native types event, failsafe, syscall,
    /// syscall32, sysenter, nmi; compat has no syscall (-ENOSYS). Unregistering any but NMI is
    /// -EINVAL. A bad command is -ENOSYS natively and -EINVAL for compat callers.
    /// </summary>
    public static long CallbackOp(PvDomain d, HypercallArgs a)
    {
        Span<byte> b = stackalloc byte[16];
        int size = d.Is64BitDomain ? 16 : 12;
        switch ((int)a.A1)
        {
            case CallbackOpRegister:
                {
                    if (!d.Guest.TryRead(a.A2, b[..size]))
                        return -XenErrno.EFAULT;
                    var type = (CallbackType)BinaryPrimitives.ReadUInt16LittleEndian(b);
                    bool mask = (BinaryPrimitives.ReadUInt16LittleEndian(b[2..]) & MaskEventsFlag) != 0;
                    ushort cs;
                    ulong address;
                    if (d.Is64BitDomain)
                    {
                        cs = PvAbi.FlatRing3Cs64;
                        address = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]);
                        if (!X86Cpu.IsCanonical(address))
                            return -XenErrno.EINVAL;
                    }
                    else
                    {
                        cs = FixupCodeSelector(d, (ushort)BinaryPrimitives.ReadUInt32LittleEndian(b[4..]));
                        address = BinaryPrimitives.ReadUInt32LittleEndian(b[8..]);
                    }

                    return Register(d, type, new Callback(cs, address, mask));
                }

            case CallbackOpUnregister:
                {
                    if (!d.Guest.TryRead(a.A2, b[..4]))
                        return -XenErrno.EFAULT;
                    var type = (CallbackType)BinaryPrimitives.ReadUInt16LittleEndian(b);
                    if (type == CallbackType.Nmi)
                    {
                        d.Vcpu.TrapTable[(int)X86Vector.NMI] = default;
                        return 0;
                    }

                    return type is CallbackType.Event or CallbackType.Failsafe or CallbackType.Syscall or CallbackType.Syscall32 or CallbackType.Sysenter
                        ? -XenErrno.EINVAL : -XenErrno.ENOSYS;
                }

            default:
                return d.Is64BitDomain ? -XenErrno.ENOSYS : -XenErrno.EINVAL;
        }
    }

    private static long Register(PvDomain d, CallbackType type, Callback cb)
    {
        switch (type)
        {
            case CallbackType.Event:
                d.Vcpu.Callbacks[type] = cb with { MaskEvents = true };
                return 0;
            case CallbackType.Failsafe or CallbackType.Syscall32 or CallbackType.Sysenter:
                d.Vcpu.Callbacks[type] = cb;
                return 0;
            case CallbackType.Syscall when d.Is64BitDomain:
                d.Vcpu.Callbacks[type] = cb;
                return 0;
            case CallbackType.Nmi:
                d.Vcpu.TrapTable[(int)X86Vector.NMI] = new TrapInfo(TrapInfo.MaskEvents, cb.Cs, cb.Address);
                return 0;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>__fixup_guest_selector: a selector whose RPL is below the guest kernel's (1 for compat, 3 for pv64) gets the kernel's.</summary>
    public static ushort FixupCodeSelector(PvDomain d, ushort selector)
    {
        int kernelRpl = d.Is64BitDomain ? 3 : 1;
        return (selector & 3) < kernelRpl ? (ushort)((selector & ~3) | kernelRpl) : selector;
    }
}
