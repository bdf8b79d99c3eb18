using System.Text;
using NUnit.Framework;
using Xtf.Core.Machine;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.Xenstore;

namespace Xtf.Tests.Xen;

/// <summary>
/// The xenstore backend over struct xenstore_domain_interface (public/io/xs_wire.h: req[1024]
/// @0, rsp[1024] @1024, req_cons @2048, req_prod @2052, rsp_cons @2056, rsp_prod @2060;
/// xsd_sockmsg { type, req_id, tx_id, len }; XS_READ 2, XS_ERROR 16). Errors are xenstored's
/// strings with their NUL (send_error).
/// </summary>
public sealed class XenstoreBackendTests
{
    private const ulong Frame = 0x10;
    private const ulong Page = Frame << 12;

    private sealed class Ring
    {
        public Ring()
        {
            Memory = new VirtualMachine(new MachineOptions { MemoryBytes = 1 << 20 }).Memory;
            Channels = new EventChannels();
            Backend = new XenstoreBackend(Memory, Frame, 1, Channels);
            Backend.Port = (uint)Channels.BindToBackend(0, 2, Backend.Notify);
        }

        public PhysicalMemory Memory { get; }

        public EventChannels Channels { get; }

        public XenstoreBackend Backend { get; }

        private uint reqProd, rspCons;

        public void Put(byte[] bytes)
        {
            foreach (byte b in bytes)
                Memory.Write(Page + (reqProd++ & 1023), [b]);
            Memory.Write(Page + 2052, BitConverter.GetBytes(reqProd));
        }

        public static byte[] Message(uint type, uint reqId, byte[] payload)
        {
            var m = new byte[16 + payload.Length];
            BitConverter.TryWriteBytes(m.AsSpan(0), type);
            BitConverter.TryWriteBytes(m.AsSpan(4), reqId);
            BitConverter.TryWriteBytes(m.AsSpan(12), (uint)payload.Length);
            payload.CopyTo(m, 16);
            return m;
        }

        public (uint Type, uint ReqId, string Payload) Take()
        {
            var b = new byte[4];
            Memory.Read(Page + 2060, b);
            uint prod = BitConverter.ToUInt32(b);
            var bytes = new List<byte>();
            for (; rspCons != prod; rspCons++)
            {
                var x = new byte[1];
                Memory.Read(Page + 1024 + (rspCons & 1023), x);
                bytes.Add(x[0]);
            }

            Memory.Write(Page + 2056, BitConverter.GetBytes(rspCons));
            var a = bytes.ToArray();
            Assert.That(BitConverter.ToUInt32(a, 12), Is.EqualTo(a.Length - 16), "one whole reply");
            return (BitConverter.ToUInt32(a, 0), BitConverter.ToUInt32(a, 4), Encoding.ASCII.GetString(a, 16, a.Length - 16));
        }
    }

    private static byte[] Path(string s) => Encoding.ASCII.GetBytes(s + "\0");

    /// <summary>XS_READ of "domid" (relative to /local/domain/1) and of its absolute path answer "1" without a NUL, echoing req_id; the guest's port is notified.</summary>
    [Test]
    public void ReadDomid()
    {
        var r = new Ring();
        r.Put(Ring.Message(XsWire.Read, 7, Path("domid")));
        Assert.That(r.Channels.Send(r.Backend.Port), Is.Zero);
        Assert.That(r.Take(), Is.EqualTo((XsWire.Read, 7u, "1")));
        Assert.That(r.Channels.IsPending(r.Backend.Port), Is.True);
        r.Put(Ring.Message(XsWire.Read, 8, Path("/local/domain/1/domid")));
        r.Channels.Send(r.Backend.Port);
        Assert.That(r.Take(), Is.EqualTo((XsWire.Read, 8u, "1")));
    }

    /// <summary>A missing node ENOENT, another domain's node EACCES, a bad name or a payload without its NUL EINVAL, an unknown type EINVAL.</summary>
    [Test]
    public void Errors()
    {
        var r = new Ring();
        r.Put(Ring.Message(XsWire.Read, 1, Path("nonexistent")));
        r.Put(Ring.Message(XsWire.Read, 2, Path("/")));
        r.Put(Ring.Message(XsWire.Read, 3, Path("a//b")));
        r.Put(Ring.Message(XsWire.Read, 4, Encoding.ASCII.GetBytes("domid")));
        r.Put(Ring.Message(99, 5, Path("domid")));
        r.Channels.Send(r.Backend.Port);
        var b = new byte[4];
        r.Memory.Read(Page + 2060, b);
        Assert.That(BitConverter.ToUInt32(b), Is.EqualTo(5 * (16 + 7)), "five error replies, each 'Exxxxx\\0'");
        var replies = new List<(uint, uint, string)>();
        string all = "";
        for (uint i = 0; i < 5 * 23; i++)
        {
            var x = new byte[1];
            r.Memory.Read(Page + 1024 + i, x);
            all += (char)x[0];
        }

        foreach (var (n, err) in new[] { (0, "ENOENT"), (1, "EACCES"), (2, "EINVAL"), (3, "EINVAL"), (4, "EINVAL") })
        {
            Assert.That(all[((n * 23) + 16)..((n * 23) + 23)], Is.EqualTo(err + "\0"));
            Assert.That((int)all[n * 23], Is.EqualTo((int)XsWire.Error));
        }
    }

    /// <summary>A request split across two notifications is answered once complete.</summary>
    [Test]
    public void SplitRequest()
    {
        var r = new Ring();
        var m = Ring.Message(XsWire.Read, 3, Path("domid"));
        r.Put(m[..10]);
        r.Channels.Send(r.Backend.Port);
        var b = new byte[4];
        r.Memory.Read(Page + 2060, b);
        Assert.That(BitConverter.ToUInt32(b), Is.Zero);
        r.Put(m[10..]);
        r.Channels.Send(r.Backend.Port);
        Assert.That(r.Take(), Is.EqualTo((XsWire.Read, 3u, "1")));
    }
}
