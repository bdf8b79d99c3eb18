namespace Xtf.Core.Xen.Xenstore;

/// <summary>The xenstore wire protocol (public/io/xs_wire.h).</summary>
public static class XsWire
{
    /// <summary>enum xsd_sockmsg_type values used here: XS_DIRECTORY 1, XS_READ 2, XS_WRITE 11, XS_ERROR 16, XS_TYPE_COUNT 30 (XS_SET_QUOTA is 29).</summary>
    public const uint Directory = 1, Read = 2, Write = 11, Error = 16, TypeCount = 30;

    /// <summary>sizeof(struct xsd_sockmsg): uint32_t type, req_id, tx_id, len.</summary>
    public const int HeaderSize = 16;

    /// <summary>XENSTORE_PAYLOAD_MAX: the longest payload of one message.</summary>
    public const int PayloadMax = 4096;

    /// <summary>XENSTORE_RING_SIZE: each of req[] and rsp[].</summary>
    public const int RingSize = 1024;

    /// <summary>struct xenstore_domain_interface: req[1024] at 0, rsp[1024] at 1024, then XENSTORE_RING_IDX req_cons, req_prod, rsp_cons, rsp_prod.</summary>
    public const int ReqOffset = 0, RspOffset = 1024, ReqConsOffset = 2048, ReqProdOffset = 2052, RspConsOffset = 2056, RspProdOffset = 2060;
}
