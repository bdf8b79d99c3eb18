namespace Xtf.Core.Xen.Pv.Descriptors;

/// <summary>
/// check_descriptor (xen/arch/x86/pv/descriptor-tables.c): whether a PV guest may have a
/// descriptor in its GDT or LDT, and the form Xen stores it in. Descriptor words: a = bits
/// 31:0, b = bits 63:32.
/// - Not present (b.P = 0): allowed unchanged (any use faults).
/// - DPL below the guest kernel's RPL (1 for compat, 3 for pv64) is raised to it, so no guest
///   descriptor is usable at a privilege the guest does not have.
/// - Code and data (b.S = 1): allowed, no base or limit check; compat: L = 1 is refused, and a
///   flat segment (base 0) whose limit reaches beyond the compat hypervisor start
///   (0xF5800000) is extended to 4 GiB (older PAE Linux stopped at 0xF6800000).
/// - System type 0: allowed unchanged (the upper half of a 64-bit call gate).
/// - A call gate (type 0xC): its target selector must be a guest GDT entry (index below
///   FIRST_RESERVED_GDT_ENTRY), Xen's flat kernel CS, or an LDT selector; its DPL is forced
///   to 0 with the fixed-up DPL kept in the target selector's RPL (so every use #GPs and Xen
///   emulates the gate); reserved bits b[7:0] (pv64) or b[7:5] (compat) must be 0.
/// - Every other system descriptor (LDT, TSS, interrupt and trap gates) is refused.
/// </summary>
public static class DescriptorCheck
{
    private const uint SegmentP = 1u << 15, SegmentS = 1u << 12, SegmentDpl = 3u << 13, SegmentL = 1u << 21, SegmentG = 1u << 23;
    private const uint SegmentType = 0xFu << 8, CallGate = 0xCu << 8;

    /// <summary>GUEST_KERNEL_RPL: the ring the guest kernel runs in.</summary>
    public static int KernelRpl(bool compat) => compat ? 1 : 3;

    /// <summary>Checks <paramref name="descriptor"/> and applies Xen's fixups to it; false if Xen refuses it.</summary>
    public static bool Check(ref ulong descriptor, bool compat)
    {
        uint a = (uint)descriptor, b = (uint)(descriptor >> 32);
        if ((b & SegmentP) == 0)
            return true;

        uint dpl = (b >> 13) & 3;
        uint rpl = (uint)KernelRpl(compat);
        if (dpl < rpl)
            dpl = rpl;
        b = (b & ~SegmentDpl) | (dpl << 13);

        if ((b & SegmentS) != 0)
        {
            if (compat)
            {
                if ((b & SegmentL) != 0)
                    return false;
                ulong segBase = (b & 0xFF000000) | ((b & 0xFF) << 16) | (a >> 16);
                ulong limit = ((b & 0xF0000) | (a & 0xFFFF)) + 1ul;
                if ((b & SegmentG) != 0)
                    limit <<= 12;
                if (segBase == 0 && limit > PvAbi.HypervisorVirtStartCompat)
                {
                    a |= 0x0000FFFF;
                    b |= 0x000F0000;
                }
            }

            descriptor = ((ulong)b << 32) | a;
            return true;
        }

        if ((b & SegmentType) == 0)
            return true;
        if ((b & SegmentType) != CallGate)
            return false;

        uint cs = a >> 16;
        if (!GateSelectorOkay(cs, compat))
            return false;
        b &= ~SegmentDpl;
        cs = (cs & ~3u) | dpl;
        a = (a & 0xFFFF) | (cs << 16);
        if ((b & (compat ? 0xE0u : 0xFFu)) != 0)
            return false;
        descriptor = ((ulong)b << 32) | a;
        return true;
    }

    /// <summary>guest_gate_selector_okay: a guest GDT selector, Xen's flat kernel CS, or an LDT selector.</summary>
    private static bool GateSelectorOkay(uint selector, bool compat) =>
        (selector >> 3) < PvAbi.FirstReservedGdtEntry
        || selector == (compat ? PvAbi.FlatRing1Cs : PvAbi.FlatRing3Cs64)
        || (selector & 4) != 0;
}
