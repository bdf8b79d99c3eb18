using System.Buffers.Binary;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv.Traps;

/// <summary>
/// HYPERVISOR_iret (__HYPERVISOR_iret = 23, xen/arch/x86/pv/iret.c). The guest jumps to the
/// hypercall page's iret slot with a frame on its stack; the hypercall restores that context and
/// returns its saved RAX/EAX. A frame that cannot be read, or an impossible return, crashes the
/// domain (there is no caller to return an error to).
/// </summary>
internal static class PvIret
{
    public static long Call(PvDomain d) => d.Is64BitDomain ? Native(d) : Compat(d);

    /// <summary>
    /// do_iret: struct iret_context { rax, r11, rcx, flags, rip, cs, rflags, rsp, ss } at RSP.
    /// A return to RPL 3 switches to user mode (which needs user page tables); with
    /// architectural_iopl the frame's IOPL becomes the virtual IOPL; CS and SS get RPL 3; RFLAGS
    /// keeps neither IOPL nor VM and IF is forced on, the frame's IF becoming the event mask;
    /// without VGCF_in_syscall R11 and RCX are restored from the frame.
    /// </summary>
    private static long Native(PvDomain d)
    {
        Span<byte> ctx = stackalloc byte[72];
        if (!d.Guest.TryRead(d.ReturnFrame.Rsp, ctx))
        {
            d.Crash("fault while reading IRET context from guest stack");
            return 0;
        }

        ulong rax = Q(ctx, 0), r11 = Q(ctx, 1), rcx = Q(ctx, 2), flags = Q(ctx, 3), rip = Q(ctx, 4), cs = Q(ctx, 5), rflags = Q(ctx, 6), rsp = Q(ctx, 7), ss = Q(ctx, 8);
        if ((cs & 3) == 3 && d.Vcpu.KernelMode)
        {
            if (d.Vcpu.UserRoot == 0)
            {
                d.Crash("guest switching to user mode with no user page tables");
                return 0;
            }

            d.ToggleGuestMode();
        }

        if (d.ArchitecturalIopl)
            d.Vcpu.Iopl = (int)((rflags >> RFlags.IoplShift) & 3);
        d.ReturnFrame = new GuestFrame(rip, (ushort)(cs | 3), (rflags & ~(ulong)(RFlags.IOPL | RFlags.VM)) | RFlags.IF, rsp, (ushort)(ss | 3));
        if ((flags & PvAbi.VgcfInSyscall) == 0)
        {
            d.SyscallReturn = false;
            d.Cpu[11] = r11;
            d.Cpu[X86Cpu.RCX] = rcx;
        }
        else
        {
            d.SyscallReturn = true;
        }

        d.UpcallMask = (rflags & RFlags.IF) != 0 ? (byte)0 : (byte)1;
        return (long)rax;
    }

    /// <summary>
    /// compat_iret: EAX, EIP, CS, EFLAGS (and ESP, SS for an outer ring) at ESP. RPL 0 crashes
    /// the domain; RPL 1 stays on the kernel stack, popping the four words; RPL 2/3 load ESP and
    /// SS from the frame. Virtual-8086 mode is not available to PV guests.
    /// </summary>
    private static long Compat(PvDomain d)
    {
        Span<byte> frame = stackalloc byte[24];
        ulong esp = d.ReturnFrame.Rsp & 0xFFFFFFFF;
        if (!d.Guest.TryRead(esp, frame[..16]))
        {
            d.Crash("fault while reading compat IRET context from guest stack");
            return 0;
        }

        uint eax = D(frame, 0), eip = D(frame, 1), cs = D(frame, 2), eflags = D(frame, 3);
        if (d.ArchitecturalIopl)
            d.Vcpu.Iopl = (int)((eflags >> RFlags.IoplShift) & 3);
        if ((eflags & RFlags.VM) != 0)
        {
            d.Crash("compat IRET to virtual-8086 mode");
            return 0;
        }

        ulong newEsp;
        ushort ss;
        switch (cs & 3)
        {
            case 0:
                d.Crash("compat IRET to ring 0");
                return 0;
            case 1:
                newEsp = esp + 16;
                ss = d.ReturnFrame.Ss;
                break;
            default:
                if (!d.Guest.TryRead(esp + 16, frame[16..]))
                {
                    d.Crash("fault while reading compat IRET context from guest stack");
                    return 0;
                }

                newEsp = D(frame, 4);
                ss = (ushort)D(frame, 5);
                break;
        }

        d.ReturnFrame = new GuestFrame(eip, (ushort)cs, (eflags & ~RFlags.IOPL) | RFlags.IF, newEsp & 0xFFFFFFFF, ss);
        d.UpcallMask = (eflags & RFlags.IF) != 0 ? (byte)0 : (byte)1;
        return eax;
    }

    private static ulong Q(ReadOnlySpan<byte> frame, int i) => BinaryPrimitives.ReadUInt64LittleEndian(frame[(8 * i)..]);

    private static uint D(ReadOnlySpan<byte> frame, int i) => BinaryPrimitives.ReadUInt32LittleEndian(frame[(4 * i)..]);
}
