using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Events;

/// <summary>
/// The 2-level event-channel ABI in shared_info (public/xen.h, xen/common/event_2l.c): a pending
/// and a mask bitmap of xen_ulong_t words, and in vcpu_info evtchn_upcall_pending (byte 0),
/// evtchn_upcall_mask (byte 1) and evtchn_pending_sel (one bit per pending word). Native layout
/// (64-bit words): pending at 0x800, mask at 0xA00, pending_sel at vcpu_info + 8; compat (32-bit
/// words): pending at 0x800, mask at 0x880, pending_sel at vcpu_info + 4. Only vCPU 0 exists.
/// </summary>
public sealed class SharedInfoEvents
{
    private const ulong PendingOffset = 0x800;

    private readonly X86Cpu cpu;
    private readonly ulong page;
    private readonly int wordBytes;

    /// <param name="cpu">Reads and writes machine memory (so cached decodes of the page stay coherent).</param>
    /// <param name="page">The machine address of the shared_info frame.</param>
    /// <param name="compat">32-bit words (a compat PV guest, or an HVM guest latched to 32-bit shared info).</param>
    public SharedInfoEvents(X86Cpu cpu, ulong page, bool compat)
    {
        this.cpu = cpu;
        this.page = page;
        Compat = compat;
        wordBytes = compat ? 4 : 8;
    }

    /// <summary>True for the compat layout (32-bit event words).</summary>
    public bool Compat { get; }

    /// <summary>Machine address of the shared_info frame.</summary>
    public ulong Page => page;

    /// <summary>BITS_PER_EVTCHN_WORD.</summary>
    public int WordBits => wordBytes * 8;

    /// <summary>The 2-level ABI's port limit: one pending_sel word of words (4096 native, 1024 compat).</summary>
    public uint MaxPorts => (uint)(WordBits * WordBits);

    private ulong MaskOffset => PendingOffset + (ulong)(WordBits * wordBytes);

    private ulong PendingSelOffset => (ulong)wordBytes;

    /// <summary>Bit <paramref name="port"/> of evtchn_pending (offset 0x800).</summary>
    public bool IsPending(uint port) => TestBit(PendingOffset, port);

    /// <summary>Bit <paramref name="port"/> of evtchn_mask (offset 0x880 compat, 0xA00 native).</summary>
    public bool IsMasked(uint port) => TestBit(MaskOffset, port);

    /// <summary>vcpu_info[0].evtchn_upcall_pending (shared_info byte 0).</summary>
    public byte UpcallPending => (byte)cpu.ReadPhysical(page, 1);

    /// <summary>vcpu_info[0].evtchn_upcall_mask (shared_info byte 1): non-zero masks upcalls, as a PV guest's virtual EFLAGS.IF clear.</summary>
    public byte UpcallMask
    {
        get => (byte)cpu.ReadPhysical(page + 1, 1);
        set => cpu.WritePhysical(page + 1, 1, value);
    }

    /// <summary>local_events_need_delivery: an upcall is pending and not masked.</summary>
    public bool NeedDelivery => UpcallPending != 0 && UpcallMask == 0;

    /// <summary>
    /// evtchn_2l_set_pending: set the port's pending bit; if it was clear and the port is not
    /// masked, set its word's bit in pending_sel, and if that was clear, mark the vCPU's upcall
    /// pending (vcpu_mark_events_pending).
    /// </summary>
    public void SetPending(uint port)
    {
        if (port >= MaxPorts || TestAndSetBit(PendingOffset, port))
            return;
        if (!IsMasked(port) && !TestAndSetBit(PendingSelOffset, port / (uint)WordBits))
            MarkEventsPending();
    }

    /// <summary>
    /// evtchn_2l_unmask: clear the mask bit; if it was set and the port is pending, set the
    /// word's pending_sel bit, and if that was clear, mark the upcall pending again.
    /// </summary>
    public void Unmask(uint port)
    {
        if (port >= MaxPorts)
            return;
        if (TestAndClearBit(MaskOffset, port) && IsPending(port) && !TestAndSetBit(PendingSelOffset, port / (uint)WordBits))
            MarkEventsPending();
    }

    /// <summary>evtchn_2l_clear_pending (on close, so a rebound port starts clean).</summary>
    public void ClearPending(uint port)
    {
        if (port < MaxPorts)
            TestAndClearBit(PendingOffset, port);
    }

    /// <summary>vcpu_mark_events_pending: evtchn_upcall_pending = 1.</summary>
    private void MarkEventsPending() => cpu.WritePhysical(page, 1, 1);

    private bool TestBit(ulong offset, uint bit) => (cpu.ReadPhysical(page + offset + (bit / 8), 1) & (1ul << (int)(bit % 8))) != 0;

    private bool TestAndSetBit(ulong offset, uint bit)
    {
        ulong at = page + offset + (bit / 8);
        ulong b = cpu.ReadPhysical(at, 1);
        ulong m = 1ul << (int)(bit % 8);
        cpu.WritePhysical(at, 1, b | m);
        return (b & m) != 0;
    }

    private bool TestAndClearBit(ulong offset, uint bit)
    {
        ulong at = page + offset + (bit / 8);
        ulong b = cpu.ReadPhysical(at, 1);
        ulong m = 1ul << (int)(bit % 8);
        cpu.WritePhysical(at, 1, b & ~m);
        return (b & m) != 0;
    }
}
