using System.Text;
using Xtf.Core.Guest.Image;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.Xenstore;

namespace Xtf.Core.Guest.Runtime;

public sealed partial class GuestRuntime
{
    /// <summary>XTF's xb_ring (linear address) and xb_port, once <see cref="SetupXenbus"/> found them.</summary>
    private ulong xenbusRing;

    private uint xenbusPort;

    /// <summary>
    /// XTF's setup_xenbus (arch/x86/setup.c): PV from start_info's store_mfn (mfn_to_virt) and
    /// store_evtchn; HVM from HVM_PARAM_STORE_PFN and HVM_PARAM_STORE_EVTCHN (pfn_to_virt), a
    /// failure of either being a panic; then init_xenbus (common/xenbus.c), which panics on a port
    /// beyond the 2-level shared_info pending bitmap.
    /// </summary>
    private void SetupXenbus()
    {
        if (IsPv)
        {
            ulong si = ReadKernel(PvLayout.StartInfoSlot);
            ulong mfn = Bitness == 64 ? ReadKernel64(si + 56) : ReadKernelUInt32(si + 44);
            xenbusPort = ReadKernelUInt32(si + (ulong)(Bitness == 64 ? 64 : 48));
            xenbusRing = MfnToPfn(mfn) << 12;
        }
        else
        {
            if (!TryGetHvmParam(HvmParam.StorePfn, out ulong pfn))
                Panic("Failed to get XenStore PFN\n");
            if (!TryGetHvmParam(HvmParam.StoreEvtchn, out ulong port))
                Panic("Failed to get XenStore evtchn\n");
            xenbusRing = pfn << 12;
            xenbusPort = (uint)port;
        }

        if (xenbusPort >= (ulong)(Bitness * Bitness))
            Panic($"evtchn {xenbusPort} out of evtchn_pending[] range\n");
    }

    /// <summary>
    /// XTF's xenstore_init (common/xenbus.c): no port is -ENODEV; otherwise EVTCHNOP_status of
    /// the port with DOMID_SELF (struct evtchn_status { domid_t dom; evtchn_port_t port;
    /// uint32_t status; ... }) must succeed and report EVTCHN_STATUS_interdomain, else -ENODEV.
    /// </summary>
    public int XenstoreInit()
    {
        SetupXenbus();
        if (xenbusPort == 0)
            return -XenErrno.ENODEV;
        var es = new byte[24];
        BitConverter.TryWriteBytes(es.AsSpan(0, 2), DomainId.Self);
        BitConverter.TryWriteBytes(es.AsSpan(4, 4), xenbusPort);
        WriteKernelBytes(HvmLayout.Scratch, es);
        long rc = Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.Status, HvmLayout.Scratch);
        if (rc != 0 || ReadKernelUInt32(HvmLayout.Scratch + 8) != (uint)EventChannelStatus.Interdomain)
            return -XenErrno.ENODEV;
        return 0;
    }

    /// <summary>
    /// XTF's xenstore_read: an XS_READ header (struct xsd_sockmsg, len counting the path's NUL)
    /// and the path into req[], EVTCHNOP_send, then the reply header and payload from rsp[]. A
    /// reply of another type is null; a payload above XENSTORE_PAYLOAD_MAX is drained and null.
    /// The payload is returned up to its first NUL (XTF terminates it and the caller reads a C
    /// string).
    /// </summary>
    public string? XenstoreRead(string path)
    {
        byte[] key = Encoding.Latin1.GetBytes(path + "\0");
        var hdr = new byte[XsWire.HeaderSize];
        BitConverter.TryWriteBytes(hdr.AsSpan(0, 4), XsWire.Read);
        BitConverter.TryWriteBytes(hdr.AsSpan(12, 4), (uint)key.Length);
        XenbusWrite(hdr);
        XenbusWrite(key);
        SendXenbusEvent();

        XenbusRead(hdr);
        uint type = BitConverter.ToUInt32(hdr, 0), len = BitConverter.ToUInt32(hdr, 12);
        if (type != XsWire.Read)
            return null;
        if (len > XsWire.PayloadMax)
        {
            for (var drain = new byte[XsWire.PayloadMax]; len > 0;)
            {
                int part = (int)Math.Min(len, (uint)XsWire.PayloadMax);
                XenbusRead(drain.AsSpan(0, part));
                len -= (uint)part;
            }

            return null;
        }

        var payload = new byte[len];
        XenbusRead(payload);
        int nul = Array.IndexOf(payload, (byte)0);
        return Encoding.Latin1.GetString(payload, 0, nul < 0 ? payload.Length : nul);
    }

    private bool SendXenbusEvent()
    {
        WriteKernelBytes(HvmLayout.Scratch, BitConverter.GetBytes(xenbusPort));
        return Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.Send, HvmLayout.Scratch) == 0;
    }

    /// <summary>
    /// Nothing to do in the ring: kick xenstored and wait. XTF then polls the port
    /// (SCHEDOP_poll unless shared_info's pending bit is already set); this runtime maps no
    /// shared_info and our xenstored answers within the send, so it yields instead. A refused
    /// send means nothing will ever answer: a panic rather than XTF's endless wait.
    /// </summary>
    private void KickXenbusAndWait()
    {
        if (!SendXenbusEvent())
            Panic("xenbus: EVTCHNOP_send refused\n");
        _ = Hypercall(HypercallNumber.SchedOp, SchedOpCommand.Yield);
    }

    /// <summary>XTF's xenbus_write: copy into req[] as space allows (never more than RING_SIZE - 1 outstanding), publishing req_prod after the data.</summary>
    private void XenbusWrite(ReadOnlySpan<byte> data)
    {
        int done = 0;
        while (done < data.Length)
        {
            uint prod = ReadRingUInt32(xenbusRing + XsWire.ReqProdOffset);
            uint cons = ReadRingUInt32(xenbusRing + XsWire.ReqConsOffset);
            uint part = (XsWire.RingSize - 1) - ((prod - cons) & (XsWire.RingSize - 1));
            if (part == 0)
            {
                KickXenbusAndWait();
                continue;
            }

            part = Math.Min(part, XsWire.RingSize - (prod & (XsWire.RingSize - 1)));
            part = Math.Min(part, (uint)(data.Length - done));
            for (uint i = 0; i < part; i++)
                WriteRing(xenbusRing + XsWire.ReqOffset + ((prod + i) & (XsWire.RingSize - 1)), 1, data[done + (int)i]);
            WriteRing(xenbusRing + XsWire.ReqProdOffset, 4, prod + part);
            done += (int)part;
        }
    }

    /// <summary>XTF's xenbus_read: copy out of rsp[] as data appears, publishing rsp_cons after the copy.</summary>
    private void XenbusRead(Span<byte> data)
    {
        int done = 0;
        while (done < data.Length)
        {
            uint prod = ReadRingUInt32(xenbusRing + XsWire.RspProdOffset);
            uint cons = ReadRingUInt32(xenbusRing + XsWire.RspConsOffset);
            uint part = prod - cons;
            if (part == 0)
            {
                KickXenbusAndWait();
                continue;
            }

            part = Math.Min(part, XsWire.RingSize - (cons & (XsWire.RingSize - 1)));
            part = Math.Min(part, (uint)(data.Length - done));
            for (uint i = 0; i < part; i++)
                data[done + (int)i] = (byte)Cpu.ReadLinear(xenbusRing + XsWire.RspOffset + ((cons + i) & (XsWire.RingSize - 1)), 1, user: false);
            WriteRing(xenbusRing + XsWire.RspConsOffset, 4, cons + part);
            done += (int)part;
        }
    }
}
