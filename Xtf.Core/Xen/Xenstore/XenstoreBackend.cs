using System.Buffers.Binary;
using System.Text;
using Xtf.Core.Machine;
using Xtf.Core.Xen.Events;

namespace Xtf.Core.Xen.Xenstore;

/// <summary>
/// xenstored's side of a domain's xenstore page (struct xenstore_domain_interface,
/// public/io/xs_wire.h), run synchronously when the guest notifies the xenstore event channel,
/// as <see cref="Console.ConsoleRing"/> is for the console. It consumes whole requests from
/// req[] (a request split across notifications is kept until complete), answers each in rsp[]
/// (replies that do not fit wait for the guest to consume), and then notifies the guest's port
/// as xenstored does. The store holds what libxl writes for a domain that the domain itself may
/// read: its home <c>/local/domain/&lt;domid&gt;</c> and <c>domid</c> there. Answered: XS_READ
/// (a relative path is under the home, tools/xenstored/core.c canonicalize); a node that exists
/// elsewhere (<c>/</c>, <c>/local</c>, <c>/local/domain</c>) is EACCES, any other ENOENT. Other
/// message types are not implemented and get ENOSYS; an out-of-range type EINVAL.
/// </summary>
public sealed class XenstoreBackend
{
    private readonly PhysicalMemory memory;
    private readonly ulong page;
    private readonly EventChannels channels;
    private readonly Dictionary<string, string> readable = [];
    private readonly HashSet<string> foreign = ["/", "/local", "/local/domain"];
    private readonly List<byte> input = [];
    private readonly Queue<byte> output = new();
    private readonly string home;
    private bool broken;

    /// <summary>The backend of the xenstore page at guest frame <paramref name="frame"/>, for domain <paramref name="domid"/>.</summary>
    public XenstoreBackend(PhysicalMemory memory, ulong frame, ushort domid, EventChannels channels)
    {
        this.memory = memory;
        page = frame << 12;
        this.channels = channels;
        home = $"/local/domain/{domid}";
        readable[home] = "";
        readable[home + "/domid"] = domid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The guest's end of the xenstore channel, notified after the backend acts.</summary>
    public uint Port { get; set; }

    /// <summary>The event-channel notification: take requests, answer them, notify back.</summary>
    public void Notify()
    {
        if (broken)
            return;
        uint cons = ReadIndex(XsWire.ReqConsOffset), prod = ReadIndex(XsWire.ReqProdOffset);
        if (prod - cons > XsWire.RingSize)
        {
            // xenstored's domain_can_read/read path: a producer more than a ring ahead is a
            // corrupt interface; the connection is dropped.
            broken = true;
            return;
        }

        Span<byte> b = stackalloc byte[1];
        for (; cons != prod; cons++)
        {
            memory.Read(page + XsWire.ReqOffset + (cons & (XsWire.RingSize - 1)), b);
            input.Add(b[0]);
        }

        WriteIndex(XsWire.ReqConsOffset, cons);
        while (!broken && input.Count >= XsWire.HeaderSize)
        {
            var h = input.GetRange(0, XsWire.HeaderSize).ToArray();
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(12));
            if (len > XsWire.PayloadMax)
            {
                broken = true;
                return;
            }

            if (input.Count < XsWire.HeaderSize + len)
                break;
            var payload = input.GetRange(XsWire.HeaderSize, (int)len).ToArray();
            input.RemoveRange(0, XsWire.HeaderSize + (int)len);
            Answer(h, payload);
        }

        Flush();
        channels.RaiseFromRemote(Port);
    }

    private void Answer(byte[] header, byte[] payload)
    {
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (type >= XsWire.TypeCount)
        {
            Reply(header, XsWire.Error, "EINVAL\0");
            return;
        }

        if (type != XsWire.Read)
        {
            Reply(header, XsWire.Error, "ENOSYS\0");
            return;
        }

        // onearg: the payload must be one NUL-terminated string (else EINVAL).
        int nul = Array.IndexOf(payload, (byte)0);
        if (nul != payload.Length - 1)
        {
            Reply(header, XsWire.Error, "EINVAL\0");
            return;
        }

        string path = Encoding.ASCII.GetString(payload, 0, nul);
        string? name = Canonicalize(path);
        if (name is null)
            Reply(header, XsWire.Error, "EINVAL\0");
        else if (readable.TryGetValue(name, out string? value))
            Reply(header, XsWire.Read, value);
        else
            Reply(header, XsWire.Error, foreign.Contains(name) ? "EACCES\0" : "ENOENT\0");
    }

    /// <summary>
    /// canonicalize and is_valid_nodename (tools/xenstored/core.c): a relative path is under
    /// the domain's home; a name is '/' or starts with '/', has no trailing '/', no "//", and
    /// only alphanumerics and "-/_@".
    /// </summary>
    private string? Canonicalize(string path)
    {
        string name = path.StartsWith('/') ? path : home + "/" + path;
        if (name == "/")
            return name;
        if (name.EndsWith('/') || name.Contains("//", StringComparison.Ordinal))
            return null;
        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '/' or '_' or '@'))
                return null;
        }

        return name;
    }

    /// <summary>send_reply: the request's req_id and tx_id, the reply's type and payload.</summary>
    private void Reply(byte[] request, uint type, string payload)
    {
        var body = Encoding.ASCII.GetBytes(payload);
        var h = new byte[XsWire.HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        request.AsSpan(4, 8).CopyTo(h.AsSpan(4));
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12), (uint)body.Length);
        foreach (byte x in h)
            output.Enqueue(x);
        foreach (byte x in body)
            output.Enqueue(x);
    }

    /// <summary>Writes queued reply bytes while rsp[] has room, then publishes rsp_prod.</summary>
    private void Flush()
    {
        uint cons = ReadIndex(XsWire.RspConsOffset), prod = ReadIndex(XsWire.RspProdOffset);
        if (prod - cons > XsWire.RingSize)
        {
            broken = true;
            return;
        }

        Span<byte> b = stackalloc byte[1];
        while (output.Count > 0 && prod - cons < XsWire.RingSize)
        {
            b[0] = output.Dequeue();
            memory.Write(page + XsWire.RspOffset + (prod & (XsWire.RingSize - 1)), b);
            prod++;
        }

        WriteIndex(XsWire.RspProdOffset, prod);
    }

    private uint ReadIndex(int offset)
    {
        Span<byte> b = stackalloc byte[4];
        memory.Read(page + (ulong)offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private void WriteIndex(int offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        memory.Write(page + (ulong)offset, b);
    }
}
