using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Interrupts;

namespace Xtf.Core.Xen.Pv.Traps;

/// <summary>
/// pv_inject_event and create_bounce_frame: an exception, software interrupt or callback
/// delivered to the guest kernel on its own stack, in the layout Xen's PV ABI defines.
/// pv64 (x86_64/entry.S): from user mode the vCPU first switches to kernel mode and the kernel
/// stack (stack_switch); the stack is aligned down to 16 bytes; the frame is, from the lowest
/// address, RCX, R11, [error code], RIP, CS (the saved event mask in bits 39:32; RPL cleared when
/// the interrupted context was the kernel), RFLAGS (IF = !saved mask), RSP, SS.
/// pv32pae (compat/entry.S): from ring 2/3 the frame goes on kernel_ss:kernel_sp and also holds
/// ESP and SS; from lowest, [error code], EIP, CS (saved mask in bits 23:16), EFLAGS, [ESP, SS].
/// A frame that cannot be written crashes the domain.
/// </summary>
public static class TrapBounce
{
    /// <summary>TRAP_HAVE_EC: the vectors whose PV bounce carries an error code.</summary>
    public static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;

    /// <summary>
    /// pv_inject_hw_exception: vector through the trap table, with the error code of vectors that
    /// have one. #PF records CR2 in vcpu_info and its U bit says whether the guest was in user mode.
    /// </summary>
    public static void Exception(PvDomain d, int vector, uint? errorCode, GuestFrame frame)
    {
        if (vector == (int)X86Vector.PF)
        {
            d.WriteVcpuInfoCr2(d.Cpu.Cr2);
            if (errorCode is { } ec)
                errorCode = d.InGuestKernelMode ? ec & ~4u : ec | 4u;
        }

        var ti = d.Vcpu.TrapTable[vector];
        if (!ti.Present)
        {
            d.Log($"Unhandled {Name(vector)} fault/trap [#{vector}, ec={errorCode ?? 0:x4}]");
            d.Crash("no handler for the bounce");
            return;
        }

        Deliver(d, ti.Cs, ti.Address, HasErrorCode(vector) ? errorCode ?? 0 : null, (ti.Flags & TrapInfo.MaskEvents) != 0, frame);
    }

    /// <summary>pv_inject_sw_interrupt: the trap table's entry, no error code, after the instruction.</summary>
    public static void SoftwareInterrupt(PvDomain d, int vector, GuestFrame frame)
    {
        var ti = d.Vcpu.TrapTable[vector];
        if (!ti.Present)
        {
            d.Crash($"software interrupt {vector:x2} has no handler");
            return;
        }

        Deliver(d, ti.Cs, ti.Address, null, (ti.Flags & TrapInfo.MaskEvents) != 0, frame);
    }

    /// <summary>
    /// SYSCALL from pv64 user mode (switch_to_kernel): the syscall callback, or syscall32 from
    /// compatibility-mode code, with RCX = the next RIP and R11 = RFLAGS as the hardware left
    /// them, DF cleared; no callback is #UD at the instruction. SYSENTER: the sysenter callback,
    /// else #GP(0). From pv32pae (compat): the syscall32/sysenter callbacks likewise.
    /// </summary>
    public static void SystemCall(PvDomain d, Mnemonic instruction, GuestFrame frame, ulong instructionRip)
    {
        var cpu = d.Cpu;
        bool syscall = instruction == Mnemonic.Syscall;
        var type = !syscall ? CallbackType.Sysenter
            : d.Is64BitDomain && cpu.Bitness == 64 ? CallbackType.Syscall : CallbackType.Syscall32;
        if (!d.Vcpu.Callbacks.TryGetValue(type, out var cb) || !cb.Present)
        {
            var at = frame with { Rip = instructionRip };
            if (syscall)
                Exception(d, (int)X86Vector.UD, null, at);
            else
                Exception(d, (int)X86Vector.GP, 0, at);
            return;
        }

        if (syscall)
        {
            cpu[X86Cpu.RCX] = frame.Rip;
            cpu[11] = frame.Rflags & ~RFlags.RF;
        }

        ushort cs = d.Is64BitDomain ? PvAbi.FlatRing3Cs64 : cb.Cs;
        Deliver(d, cs, cb.Address, null, cb.MaskEvents, frame, clearDirection: syscall);
    }

    /// <summary>
    /// The event callback (evtchn_upcall): delivered with events masked, no error code.
    /// </summary>
    public static void EventUpcall(PvDomain d, GuestFrame frame)
    {
        if (!d.Vcpu.Callbacks.TryGetValue(CallbackType.Event, out var cb) || !cb.Present)
            return;
        Deliver(d, d.Is64BitDomain ? PvAbi.FlatRing3Cs64 : cb.Cs, cb.Address, null, maskEvents: true, frame);
    }

    /// <summary>create_bounce_frame, then the exit to the handler.</summary>
    private static void Deliver(PvDomain d, ushort cs, ulong target, uint? errorCode, bool maskEvents, GuestFrame frame, bool clearDirection = false)
    {
        byte savedMask = d.UpcallMask;
        if (maskEvents)
            d.UpcallMask = 1;
        ulong flagsIf = savedMask == 0 ? RFlags.IF : 0;
        ulong shownIopl = d.ArchitecturalIopl ? (ulong)d.Vcpu.Iopl << RFlags.IoplShift : 0;
        ulong savedFlags = (frame.Rflags & ~(RFlags.IF | RFlags.IOPL)) | flagsIf | shownIopl;

        bool ok = d.Is64BitDomain
            ? Build64(d, errorCode, frame, savedMask, savedFlags, out var handler)
            : BuildCompat(d, cs, errorCode, frame, savedMask, savedFlags, out handler);
        if (!ok)
            return;

        ulong cleared = RFlags.VM | RFlags.RF | RFlags.NT | RFlags.TF | (d.Is64BitDomain ? RFlags.AC : 0) | (clearDirection ? RFlags.DF : 0);
        d.ExitToGuest(handler with { Rip = target, Cs = d.Is64BitDomain ? PvAbi.FlatRing3Cs64 : cs, Rflags = frame.Rflags & ~cleared });
    }

    private static bool Build64(PvDomain d, uint? errorCode, GuestFrame frame, byte savedMask, ulong savedFlags, out GuestFrame handler)
    {
        handler = default;
        var cpu = d.Cpu;
        ulong savedCs = frame.Cs;
        ulong sp;
        if (!d.Vcpu.KernelMode)
        {
            d.ToggleGuestMode();
            sp = d.Vcpu.KernelSp;
        }
        else
        {
            sp = frame.Rsp;
            savedCs &= ~3ul;
        }

        sp &= ~0xFul;
        int count = errorCode.HasValue ? 8 : 7;
        ulong bottom = sp - (ulong)(8 * count);
        if (!X86Cpu.IsCanonical(sp) || (sp > PvAbi.HypervisorVirtStart64 && bottom < PvAbi.HypervisorVirtEnd64 + 64))
        {
            d.Crash($"bounce frame at {sp:x16} is not in guest space");
            return false;
        }

        var values = new List<ulong> { cpu[X86Cpu.RCX], cpu[11] };
        if (errorCode is { } ec)
            values.Add(ec);
        values.AddRange([frame.Rip, savedCs | ((ulong)savedMask << 32), savedFlags, frame.Rsp, frame.Ss]);
        if (!WriteFrame(d, bottom, values, 8))
            return false;
        handler = new GuestFrame(0, 0, 0, bottom, PvAbi.FlatRing3Ss64);
        return true;
    }

    private static bool BuildCompat(PvDomain d, ushort cs, uint? errorCode, GuestFrame frame, byte savedMask, ulong savedFlags, out GuestFrame handler)
    {
        handler = default;
        if ((cs & ~3) == 0)
        {
            d.Crash("bounce to a null code selector");
            return false;
        }

        bool switchStack = (frame.Cs & 2) != 0;
        ulong sp = switchStack ? d.Vcpu.KernelSp : frame.Rsp;
        ushort ss = switchStack ? d.Vcpu.KernelSs : frame.Ss;
        var values = new List<ulong>();
        if (errorCode is { } ec)
            values.Add(ec);
        values.AddRange([frame.Rip & 0xFFFFFFFF, frame.Cs | ((ulong)savedMask << 16), savedFlags & 0xFFFFFFFF]);
        if (switchStack)
            values.AddRange([frame.Rsp & 0xFFFFFFFF, frame.Ss]);
        ulong bottom = (sp - (ulong)(4 * values.Count)) & 0xFFFFFFFF;
        if (!WriteFrame(d, bottom, values, 4))
            return false;
        handler = new GuestFrame(0, 0, 0, bottom, ss);
        return true;
    }

    /// <summary>Writes the frame through the guest's page tables with the hypervisor's (supervisor) rights; a fault crashes the domain.</summary>
    private static bool WriteFrame(PvDomain d, ulong bottom, List<ulong> values, int size)
    {
        var bytes = new byte[values.Count * size];
        for (int i = 0; i < values.Count; i++)
        {
            if (size == 8)
                BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), values[i]);
            else
                BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), (uint)values[i]);
        }

        if (d.Guest.TryWrite(bottom, bytes, user: false))
            return true;
        d.Crash($"fault writing the bounce frame at {bottom:x}");
        return false;
    }

    private static string Name(int vector) => vector < 32 ? ((X86Vector)vector).ToString() : $"vec {vector}";
}
