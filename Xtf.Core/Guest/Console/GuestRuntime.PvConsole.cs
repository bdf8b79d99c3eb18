using Xtf.Core.Guest.Image;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Console;
using Xtf.Core.Xen.Events;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>The PV console ring's linear address (XTF's pv_con_ring), once set up.</summary>
    private ulong? pvConsoleRing;

    private uint pvConsoleEvtchn;

    /// <summary>True once <see cref="SetupPvConsole"/> found the ring: printk then writes it too.</summary>
    public bool PvConsoleReady => pvConsoleRing is not null;

    /// <summary>
    /// XTF's setup_pv_console for HVM: read HVM_PARAM_CONSOLE_PFN and HVM_PARAM_CONSOLE_EVTCHN
    /// with HVMOP_get_param; without both there is no PV console. The ring is reached through
    /// the identity map (pfn_to_virt), and init_pv_console refuses a port beyond the 2-level
    /// event-channel ABI.
    /// </summary>
    public void SetupPvConsole()
    {
        if (IsPv)
        {
            SetupPvConsoleFromStartInfo();
            return;
        }

        if (!HypercallsReady || !TryGetHvmParam(HvmParam.ConsolePfn, out ulong pfn) || !TryGetHvmParam(HvmParam.ConsoleEvtchn, out ulong port))
            return;
        if (port >= (ulong)(Bitness * Bitness))
            Panic($"evtchn {port} out of evtchn range\n");
        pvConsoleRing = pfn << 12;
        pvConsoleEvtchn = (uint)port;
    }

    /// <summary>
    /// XTF's hvm_get_param: <c>struct xen_hvm_param { domid_t domid; uint32_t index; uint64_t
    /// value; }</c> with DOMID_SELF, through HVMOP_get_param (passed in the scratch page as XTF
    /// passes its stack).
    /// </summary>
    private bool TryGetHvmParam(int index, out ulong value)
    {
        var p = new byte[16];
        BitConverter.TryWriteBytes(p.AsSpan(0, 2), DomainId.Self);
        BitConverter.TryWriteBytes(p.AsSpan(4, 4), (uint)index);
        WriteKernelBytes(HvmLayout.Scratch, p);
        long rc = Hypercall(HypercallNumber.HvmOp, 1 /* HVMOP_get_param */, HvmLayout.Scratch);
        value = rc == 0 ? ReadRingUInt32(HvmLayout.Scratch + 8) | ((ulong)ReadRingUInt32(HvmLayout.Scratch + 12) << 32) : 0;
        return rc == 0;
    }

    /// <summary>
    /// XTF's pv_console_write: put as much as fits between out_cons and out_prod + sizeof(out)
    /// into out[MASK_XENCONS_IDX(prod)], publish out_prod (a release store: the data first),
    /// notify with EVTCHNOP_send, and wait with SCHEDOP_yield until out_cons (an acquire load)
    /// reaches out_prod; repeat until every byte is written. If the notification is refused
    /// (closed port, a caller without hypercall privilege), nothing will consume the ring, so
    /// the wait is abandoned instead of spinning as XTF would.
    /// </summary>
    private void PvConsoleWrite(ReadOnlySpan<byte> bytes)
    {
        ulong ring = pvConsoleRing!.Value;
        int written = 0;
        do
        {
            uint cons = ReadRingUInt32(ring + ConsoleRing.OutConsOffset);
            uint prod = ReadRingUInt32(ring + ConsoleRing.OutProdOffset);
            while (written < bytes.Length && prod - cons < ConsoleRing.OutSize)
                WriteRing(ring + ConsoleRing.OutOffset + (prod++ & (ConsoleRing.OutSize - 1)), 1, bytes[written++]);
            WriteRing(ring + ConsoleRing.OutProdOffset, 4, prod);

            // struct evtchn_send { evtchn_port_t port; } in the printk buffer, which console_io is done with.
            WriteKernelBytes(HvmLayout.PrintkBuffer, BitConverter.GetBytes(pvConsoleEvtchn));
            if (Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.Send, HvmLayout.PrintkBuffer) != 0)
                return;
            while (ReadRingUInt32(ring + ConsoleRing.OutProdOffset) != ReadRingUInt32(ring + ConsoleRing.OutConsOffset))
                _ = Hypercall(HypercallNumber.SchedOp, SchedOpCommand.Yield);
        }
        while (written < bytes.Length);
    }

    /// <summary>A kernel load from the ring page, by linear address through the guest's paging (XTF's segments are flat).</summary>
    private uint ReadRingUInt32(ulong linear) => (uint)Cpu.ReadLinear(linear, 4, user: false);

    private void WriteRing(ulong linear, int size, ulong value) =>
        Cpu.WriteLinear(linear, size, value, user: false);
}
