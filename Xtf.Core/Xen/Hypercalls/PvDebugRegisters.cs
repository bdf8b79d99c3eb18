using Xtf.Core.Cpu;
using Xtf.Core.Xen.Pv;

namespace Xtf.Core.Xen.Hypercalls;

/// <summary>
/// HYPERVISOR_set_debugreg(reg, value) and HYPERVISOR_get_debugreg(reg) for PV guests
/// (xen/arch/x86/pv/misc-hypercalls.c set_debugreg, x86emul_read_dr). The guest's debug
/// registers are the vCPU's real DR0-DR7 while it runs; DR7's I/O breakpoint enables are kept
/// aside (dr7_emul) since real I/O breakpoints are Xen's, and read back merged.
/// </summary>
internal static class PvDebugRegisters
{
    /// <summary>DR7 bits that read as 0 (11, 12, 14, 15), the one that reads as 1 (10), GD, and the enables (L0-3, G0-3).</summary>
    private const ulong Dr7ReservedZero = 0xD800, Dr7ReservedOne = 0x400, Dr7GeneralDetect = 0x2000, Dr7ActiveMask = 0xFF;

    /// <summary>DR6 bit 12 reads as 0; bits 4-11 and 16-31 read as 1.</summary>
    private const ulong Dr6ReservedZero = 0x1000, Dr6ReservedOne = 0xFFFF0FF0;

    /// <summary>
    /// set_debugreg: DR0-3 must be guest addresses (access_ok: below 2^47 or above Xen's area,
    /// else -EPERM). DR4/DR5 alias DR6/DR7 unless the guest's CR4.DE is set (-ENODEV). DR6 and
    /// DR7: the upper 32 bits must be 0 (-EINVAL) and the fixed bits are forced. DR7.GD is Xen's
    /// (-EPERM); an I/O breakpoint (R/W = 10b) needs CR4.DE (-EPERM) and is emulated. Other
    /// registers: -ENODEV.
    /// </summary>
    public static long Set(PvDomain d, HypercallArgs a)
    {
        var cpu = d.Cpu;
        int reg = (int)a.A1;
        ulong value = d.Is64BitDomain ? a.A2 : a.A2 & 0xFFFFFFFF;
        bool de = (cpu.Cr4Value & Cr4.DE) != 0;
        switch (reg)
        {
            case >= 0 and <= 3:
                if (!(value < 1ul << 47 || value >= PvAbi.HypervisorVirtEnd64))
                    return -XenErrno.EPERM;
                cpu.WriteDebugRegister(reg, value);
                return 0;
            case 4 or 6:
                if (reg == 4 && de)
                    return -XenErrno.ENODEV;
                if (value != (uint)value)
                    return -XenErrno.EINVAL;
                cpu.WriteDebugRegister(6, (value & ~Dr6ReservedZero) | Dr6ReservedOne);
                return 0;
            case 5 or 7:
                if (reg == 5 && de)
                    return -XenErrno.ENODEV;
                if (value != (uint)value)
                    return -XenErrno.EINVAL;
                value = (value & ~Dr7ReservedZero) | Dr7ReservedOne;
                if ((value & Dr7GeneralDetect) != 0)
                    return -XenErrno.EPERM;
                ulong io = 0;
                if ((value & Dr7ActiveMask) != 0)
                {
                    for (int i = 16; i < 32; i += 4)
                    {
                        if (((value >> i) & 3) != 2)
                            continue;
                        if (!de)
                            return -XenErrno.EPERM;
                        io |= value & (3ul << ((i - 16) >> 1));
                    }
                }

                d.Dr7Emulated = io;
                cpu.WriteDebugRegister(7, value & ~io);
                return 0;
            default:
                return -XenErrno.ENODEV;
        }
    }

    /// <summary>get_debugreg: DR0-3; DR6 (and DR4 without CR4.DE); DR7 with the emulated I/O enables (and DR5 without CR4.DE); otherwise -ENODEV.</summary>
    public static long Get(PvDomain d, HypercallArgs a)
    {
        var cpu = d.Cpu;
        bool de = (cpu.Cr4Value & Cr4.DE) != 0;
        int reg = (int)a.A1;
        if (reg is >= 0 and <= 3)
            return (long)cpu.ReadDebugRegister(reg);
        if (reg == 6 || (reg == 4 && !de))
            return (long)cpu.ReadDebugRegister(6);
        if (reg == 7 || (reg == 5 && !de))
            return (long)(cpu.ReadDebugRegister(7) | d.Dr7Emulated);
        return -XenErrno.ENODEV;
    }
}
