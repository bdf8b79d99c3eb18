using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Xen.Hypercalls;

namespace Xtf.Core.Xen.Pv.PrivilegedOps;

/// <summary>
/// MOV to/from DR for the PV guest kernel (x86emul_read_dr / x86emul_write_dr): writes go
/// through set_debugreg (<see cref="PvDebugRegisters.Set"/>; -ENODEV is #UD, any other error
/// #GP(0)). Xen loads the guest's debug registers into the processor while it runs, so DR0-3,
/// DR6 and DR7 are the processor's; I/O breakpoints (R/W = 10b, which need the guest's CR4.DE)
/// are kept aside in dr7_emul and matched by the I/O emulation. DR4/DR5 alias DR6/DR7 unless
/// the guest's CR4.DE is set, when they are #UD, as are DR8-15.
/// </summary>
internal sealed partial class PrivilegedOpEmulator
{
    /// <summary>x86emul_read_dr: false for a register that is #UD (DR4/DR5 with CR4.DE, DR8 up).</summary>
    public bool TryGetDebugreg(int reg, out ulong value)
    {
        bool de = (GuestCr4 & Cr4.DE) != 0;
        switch (reg)
        {
            case >= 0 and <= 3:
                value = Cpu.Dr[reg];
                return true;
            case 4 when !de:
            case 6:
                value = Cpu.Dr[6];
                return true;
            case 5 when !de:
            case 7:
                value = Cpu.Dr[7] | d.Dr7Emulated;
                return true;
            default:
                value = 0;
                return false;
        }
    }

    private PrivOpResult MoveDebugRegister(in Instruction i)
    {
        RequireRing0();
        bool write = IsDebugRegister(i.Op0Register);
        int dr = (write ? i.Op0Register : i.Op1Register) - Register.DR0;
        var (gpr, bytes) = Gpr(write ? i.Op1Register : i.Op0Register);
        if (gpr < 0)
            return PrivOpResult.Unhandleable;
        if (write)
        {
            ulong value = bytes == 4 ? Cpu[gpr] & 0xFFFFFFFF : Cpu[gpr];
            long rc = PvDebugRegisters.Set(d, new HypercallArgs((ulong)dr, value, 0, 0, 0));
            if (rc == -XenErrno.ENODEV)
                throw CpuFault.UD();
            if (rc != 0)
                throw CpuFault.GP(0);
            return PrivOpResult.Done;
        }

        if (!TryGetDebugreg(dr, out ulong result))
            throw CpuFault.UD();
        Cpu[gpr] = bytes == 4 ? result & 0xFFFFFFFF : result;
        return PrivOpResult.Done;
    }

    /// <summary>
    /// check_guest_io_breakpoint: with the guest's CR4.DE, the DR6 B-bits of the enabled I/O
    /// breakpoints whose port range (DR7 LEN: 1, 2, 8 or 4 bytes) overlaps the access.
    /// </summary>
    private uint IoBreakpointMatch(uint port, int bytes)
    {
        if (d.Dr7Emulated == 0 || (GuestCr4 & Cr4.DE) == 0)
            return 0;
        uint match = 0;
        for (int i = 0; i < 4; i++)
        {
            if ((d.Dr7Emulated & (3ul << (2 * i))) == 0)
                continue;
            ulong start = Cpu.Dr[i];
            ulong width = ((Cpu.Dr[7] >> (16 + (4 * i))) & 0xC) switch { 0x0 => 1, 0x4 => 2, 0xC => 4, _ => 8 };
            if (start < port + (ulong)bytes && start + width > port)
                match |= 1u << i;
        }

        return match;
    }
}
