using System.Buffers.Binary;
using Xtf.Core.Machine;

namespace Xtf.Core.Xen.Console;

/// <summary>
/// The console backend for one <c>struct xencons_interface</c> page (public/io/console.h):
/// <c>char in[1024]; char out[2048]; XENCONS_RING_IDX in_cons, in_prod, out_cons, out_prod;</c>.
/// It does what xenconsoled's buffer_append does, synchronously when the guest notifies the
/// console event channel: read out_cons and out_prod, consume out[MASK_XENCONS_IDX(cons)] up to
/// prod into the ring's log, then publish out_cons = prod.
/// </summary>
public sealed class ConsoleRing
{
    /// <summary>Byte offset and size of <c>in[]</c>, the backend-to-guest ring (1024 bytes).</summary>
    public const int InOffset = 0, InSize = 1024;
    /// <summary>Byte offset and size of <c>out[]</c>, the guest-to-backend ring (2048 bytes).</summary>
    public const int OutOffset = 1024, OutSize = 2048;
    /// <summary>Byte offsets of the four 32-bit XENCONS_RING_IDX indices: in_cons, in_prod, out_cons, out_prod (free-running; MASK_XENCONS_IDX reduces them modulo the ring size).</summary>
    public const int InConsOffset = 3072, InProdOffset = 3076, OutConsOffset = 3080, OutProdOffset = 3084;

    private readonly PhysicalMemory memory;

    /// <summary>The backend of the ring page at guest frame <paramref name="frame"/> of <paramref name="memory"/>.</summary>
    public ConsoleRing(PhysicalMemory memory, ulong frame)
    {
        this.memory = memory;
        Frame = frame;
    }

    /// <summary>The guest frame of the ring (HVM_PARAM_CONSOLE_PFN, or start_info.console.domU.mfn for PV).</summary>
    public ulong Frame { get; }

    /// <summary>What the backend read from the ring: the guest's console as <c>xl console</c> shows it.</summary>
    public ConsoleLog Log { get; } = new();

    /// <summary>
    /// The event-channel notification. xenconsoled reads both indices, then (xen_mb) the data,
    /// then (xen_mb) writes out_cons; here the three happen in that program order with the vCPU
    /// stopped in the hypercall, which is the strongest ordering those barriers ask for. A ring
    /// whose producer is more than a ring's size ahead is a guest bug and is left untouched.
    /// </summary>
    public void Notify()
    {
        ulong page = Frame << 12;
        uint cons = ReadUInt32(page + OutConsOffset);
        uint prod = ReadUInt32(page + OutProdOffset);
        uint size = prod - cons;
        if (size == 0 || size > OutSize)
            return;
        Span<byte> b = stackalloc byte[1];
        for (; cons != prod; cons++)
        {
            memory.Read(page + OutOffset + (cons & (OutSize - 1)), b);
            Log.Append(b[0]);
        }

        Span<byte> idx = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(idx, cons);
        memory.Write(page + OutConsOffset, idx);
    }

    private uint ReadUInt32(ulong address)
    {
        Span<byte> b = stackalloc byte[4];
        memory.Read(address, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }
}
