using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Pv.PrivilegedOps;

/// <summary>
/// I/O port emulation for a PV domain without I/O privilege (emul-priv-op.c: guest_io_okay,
/// guest_io_read, guest_io_write, rep_ins, rep_outs). The guest's permission is its virtual
/// IOPL (iopl_ok) or, failing that, the I/O bitmap it registered with PHYSDEVOP_set_iobitmap;
/// without either the #GP(0) is bounced. With permission, a domU's accesses never reach a real
/// port (admin_io_okay is false): reads return all ones per byte and writes are dropped, except
/// the ports Xen virtualises for every PV domain: the RTC index 0x70 (cmos_idx) and the PCI
/// CONFIG_ADDRESS dword at 0xCF8 (pci_cf8).
/// </summary>
internal sealed partial class PrivilegedOpEmulator
{
    private const ushort RtcIndexPort = 0x70, PciConfigAddressPort = 0xCF8;

    /// <summary>PHYSDEVOP_set_iobitmap: the guest-virtual address of the bitmap and the number of ports it covers (0: none).</summary>
    public ulong IoBitmap { get; set; }

    public uint IoBitmapPorts { get; set; }

    /// <summary>The domain's latched RTC index (cmos_idx).</summary>
    public byte CmosIndex { get; private set; }

    /// <summary>The domain's latched PCI CONFIG_ADDRESS (pci_cf8).</summary>
    public uint PciCf8 { get; private set; }

    /// <summary>
    /// guest_io_okay: iopl_ok, else a port range within the I/O bitmap whose bits are all clear.
    /// The two bitmap bytes are read as the guest kernel (pv64 user mode switches to the kernel's
    /// page tables for the read); a byte that cannot be read counts as 0xFF (no access).
    /// </summary>
    public bool GuestIoOkay(uint port, int bytes)
    {
        if (d.IoplOk)
            return true;
        if (port + (uint)bytes > IoBitmapPorts)
            return false;
        Span<byte> x = [0xFF, 0xFF];
        bool toggle = d.Is64BitDomain && !d.Vcpu.KernelMode;
        if (toggle)
            d.ToggleGuestMode();
        for (int i = 0; i < 2; i++)
        {
            if (!d.Guest.TryRead(IoBitmap + (port >> 3) + (ulong)i, x.Slice(i, 1), user: false))
                break;
        }

        if (toggle)
            d.ToggleGuestMode();
        int mask = x[0] | (x[1] << 8);
        return (mask & (((1 << bytes) - 1) << (int)(port & 7))) == 0;
    }

    /// <summary>guest_io_read for a domain without admin I/O access: byte by byte, all ones except the virtualised ports.</summary>
    public uint GuestIoRead(uint port, int bytes)
    {
        uint data = 0;
        int shift = 0;
        while (bytes != 0)
        {
            int size = 1;
            uint sub = ~0u;
            if (port == RtcIndexPort)
            {
                sub = CmosIndex;
            }
            else if (port == PciConfigAddressPort && bytes == 4)
            {
                return PciCf8;
            }

            data |= (sub & 0xFFu) << shift;
            shift += 8 * size;
            port += (uint)size;
            bytes -= size;
        }

        return data;
    }

    /// <summary>guest_io_write for a domain without admin I/O access: only the virtualised ports keep what is written.</summary>
    public void GuestIoWrite(uint port, int bytes, uint data)
    {
        while (bytes != 0)
        {
            if (port == RtcIndexPort)
            {
                CmosIndex = (byte)data;
            }
            else if (port == PciConfigAddressPort && bytes == 4)
            {
                PciCf8 = data;
                return;
            }

            port++;
            bytes--;
            data >>= 8;
        }
    }

    /// <summary>IN/OUT with an imm8 or DX port; AL, AX or EAX (an EAX result is zero-extended in 64-bit mode).</summary>
    private PrivOpResult PortInOut(in Instruction i)
    {
        bool input = i.Mnemonic == Mnemonic.In;
        var accumulator = input ? i.Op0Register : i.Op1Register;
        int bytes = accumulator switch { Register.AL => 1, Register.AX => 2, _ => 4 };
        var portOperand = input ? i.Op1Kind : i.Op0Kind;
        uint port = portOperand == OpKind.Immediate8 ? i.Immediate8 : (uint)(Cpu[X86Cpu.RDX] & 0xFFFF);
        if (!GuestIoOkay(port, bytes))
            return PrivOpResult.Unhandleable;
        breakpointMatch = IoBreakpointMatch(port, bytes);
        if (input)
        {
            uint value = GuestIoRead(port, bytes);
            ulong rax = Cpu[X86Cpu.RAX];
            Cpu[X86Cpu.RAX] = bytes switch
            {
                1 => (rax & ~0xFFul) | (value & 0xFF),
                2 => (rax & ~0xFFFFul) | (value & 0xFFFF),
                _ => value,
            };
        }
        else
        {
            GuestIoWrite(port, bytes, (uint)Cpu[X86Cpu.RAX]);
        }

        return PrivOpResult.Done;
    }

    /// <summary>
    /// INS (rep_ins): the permission check first; ES must be a writable data segment (#GP(0));
    /// each element is read from the port and stored at ES:(E/R)DI as the guest would store it
    /// (limit and paging checks at the guest's privilege; a fault stops the string with the
    /// elements already done committed). A REP count of 0 does nothing.
    /// </summary>
    private PrivOpResult InputString(in Instruction i) => StringIo(in i, input: true);

    /// <summary>OUTS (rep_outs): as INS, the source at seg:(E/R)SI (DS unless overridden).</summary>
    private PrivOpResult OutputString(in Instruction i) => StringIo(in i, input: false);

    /// <summary>A register updated at the address size: 16 bits keep the upper bits, 32 bits zero-extend (SDM vol. 1, 3.4.1.1).</summary>
    private static ulong WithAddressSize(ulong old, ulong value, int addressBytes) => addressBytes switch
    {
        2 => (old & ~0xFFFFul) | (value & 0xFFFF),
        4 => value & 0xFFFFFFFF,
        _ => value,
    };

    private PrivOpResult StringIo(in Instruction i, bool input)
    {
        var cpu = Cpu;
        int bytes = i.Mnemonic switch { Mnemonic.Insb or Mnemonic.Outsb => 1, Mnemonic.Insw or Mnemonic.Outsw => 2, _ => 4 };
        var memoryKind = input ? i.Op0Kind : i.Op1Kind;
        int addressBytes = memoryKind switch
        {
            OpKind.MemoryESRDI or OpKind.MemorySegRSI => 8,
            OpKind.MemoryESEDI or OpKind.MemorySegESI => 4,
            _ => 2,
        };
        ulong addressMask = addressBytes == 8 ? ulong.MaxValue : (1ul << (8 * addressBytes)) - 1;
        bool rep = i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix;
        ulong count = rep ? cpu[X86Cpu.RCX] & addressMask : 1;
        if (count == 0)
            return PrivOpResult.Done;
        uint port = (uint)(cpu[X86Cpu.RDX] & 0xFFFF);
        if (!GuestIoOkay(port, bytes))
            return PrivOpResult.Unhandleable;
        int seg = input ? X86Cpu.ES : X86Cpu.MemorySegment(i);
        var s = cpu.Segments[seg];
        if (cpu.Bitness != 64 && (!s.Present || (input ? (s.Type & 0xA) != 0x2 : (s.Type & 0xA) == 0x8)))
            throw new CpuFault(seg == X86Cpu.SS ? X86Vector.SS : X86Vector.GP, 0);
        breakpointMatch = IoBreakpointMatch(port, bytes);
        int index = input ? X86Cpu.RDI : X86Cpu.RSI;
        long step = (cpu.Eflags & RFlags.DF) != 0 ? -bytes : bytes;
        while (count != 0)
        {
            ulong offset = cpu[index] & addressMask;
            if (input)
                cpu.WriteLogical(seg, offset, bytes, GuestIoRead(port, bytes));
            else
                GuestIoWrite(port, bytes, (uint)cpu.ReadLogical(seg, offset, bytes));
            cpu[index] = WithAddressSize(cpu[index], offset + (ulong)step, addressBytes);
            count--;
            if (rep)
                cpu[X86Cpu.RCX] = WithAddressSize(cpu[X86Cpu.RCX], count, addressBytes);
            if (breakpointMatch != 0)
            {
                // A breakpoint ends the emulation after one element; the rest of a REP string runs
                // when the guest resumes at the same instruction.
                restart = count != 0;
                break;
            }
        }

        return PrivOpResult.Done;
    }
}
