using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Xen;

/// <summary>
/// copy_from_guest / copy_to_guest: the hypervisor's access to guest memory by guest linear
/// address, through the guest's own paging, with the guest's current privilege for the user
/// bit. A fault is not injected: the hypercall fails with -EFAULT instead.
/// </summary>
public sealed class GuestMemory
{
    private readonly X86Cpu cpu;

    /// <summary>A view through <paramref name="cpu"/>'s current paging mode and CR3.</summary>
    public GuestMemory(X86Cpu cpu) => this.cpu = cpu;

    /// <summary>The vCPU whose paging this view walks (machine memory is reached through it).</summary>
    internal X86Cpu Cpu => cpu;

    /// <summary>copy_from_guest of <c>data.Length</c> bytes at <paramref name="linear"/> with the caller's rights (user when CPL 3); false (-EFAULT for the caller) on any translation failure or address outside RAM.</summary>
    public bool TryRead(ulong linear, Span<byte> data) => TryRead(linear, data, cpu.Cpl == 3);

    /// <summary>copy_to_guest with the caller's rights; all or nothing: a failing copy writes no byte.</summary>
    public bool TryWrite(ulong linear, ReadOnlySpan<byte> data) => TryWrite(linear, data, cpu.Cpl == 3);

    /// <summary>A read with explicit rights: <paramref name="user"/> false is the hypervisor's own (supervisor) access.</summary>
    public bool TryRead(ulong linear, Span<byte> data, bool user)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (!TryTranslate(linear + (ulong)i, AccessKind.Read, user, out ulong pa))
                return false;
            data[i] = (byte)cpu.ReadPhysical(pa, 1);
        }

        return true;
    }

    /// <summary>A write with explicit rights (see <see cref="TryRead(ulong, Span{byte}, bool)"/>).</summary>
    public bool TryWrite(ulong linear, ReadOnlySpan<byte> data, bool user)
    {
        // Translate everything first so a failing copy writes nothing.
        var physical = new ulong[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            if (!TryTranslate(linear + (ulong)i, AccessKind.Write, user, out physical[i]))
                return false;
        }

        for (int i = 0; i < data.Length; i++)
            cpu.WritePhysical(physical[i], 1, data[i]);
        return true;
    }

    /// <summary>Reads a little-endian 32-bit value with the caller's rights; false on failure.</summary>
    public bool TryReadUInt32(ulong linear, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        bool ok = TryRead(linear, b);
        value = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(b);
        return ok;
    }

    private bool TryTranslate(ulong linear, AccessKind kind, bool user, out ulong physical)
    {
        if (!cpu.LongMode)
            linear &= 0xFFFFFFFF;
        try
        {
            physical = cpu.Translate(linear, kind, user);
            // A p2m hole (no RAM behind the frame) fails the copy, as HVMTRANS_bad_gfn_to_mfn does.
            return cpu.Memory.GetFrame(physical >> 12, forWrite: false) is not null;
        }
        catch (CpuFault)
        {
            physical = 0;
            return false;
        }
    }
}
