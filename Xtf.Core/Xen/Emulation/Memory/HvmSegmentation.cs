using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Xen.Emulation.Memory;

/// <summary>
/// Xen's segmentation for the emulator's accesses: hvm_vcpu_virtual_to_linear (hvm/hvm.c), as
/// hvmemul_virtual_to_linear (hvm/emulate.c) calls it for user segments, failing with #SS(0)
/// through SS and #GP(0) otherwise. It is not the processor's: in real mode nothing is checked;
/// in virtual-8086 mode only the fixed 64 KiB limit; with 64-bit code only canonical form (of the
/// first byte for an address in the upper half, of the last byte otherwise), FS and GS adding
/// their base; elsewhere the cooked present bit, the type and the limit. x86_emulate makes no
/// EFLAGS.AC alignment check and matches no data breakpoint (neither exists in its ops).
/// </summary>
internal static class HvmSegmentation
{
    /// <summary>The linear address of <paramref name="seg"/>:<paramref name="offset"/> for <paramref name="bytes"/> bytes, or the fault hvmemul_virtual_to_linear injects.</summary>
    public static ulong Linear(X86Cpu cpu, int seg, ulong offset, int bytes, AccessKind access, bool xsa191 = false)
    {
        if (!TryLinear(cpu, seg, offset, bytes, access, xsa191, out ulong linear))
            throw new CpuFault(seg == X86Cpu.SS ? X86Vector.SS : X86Vector.GP, 0);
        return linear;
    }

    /// <summary>
    /// hvm_vcpu_virtual_to_linear for a user segment register; false where it says "goto out".
    /// <paramref name="xsa191"/> re-creates the function before Xen 04beafa8e6 (XSA-191), which
    /// lacked the "cooked .p" check, so an unusable (null) segment was used with the fields VMX
    /// leaves after a null load on Intel (the commit's words: base 0, limit 0xffffffff, attributes
    /// just G and D/B, hence S = 0 and no type check): a flat segment.
    /// </summary>
    public static bool TryLinear(X86Cpu cpu, int seg, ulong offset, int bytes, AccessKind access, bool xsa191, out ulong linear)
    {
        var reg = cpu.Segments[seg];
        ulong span = bytes == 0 ? 0 : (ulong)bytes - 1;
        linear = offset;

        if ((cpu.Cr0Value & Cr0.PE) == 0)
        {
            // REAL MODE: no segment access checks at all (not even the 64 KiB limit).
            linear = (uint)(offset + reg.Base);
            return true;
        }

        if (cpu.Virtual8086)
        {
            // VM86 MODE: fixed 64k limits on all user segments.
            linear = (uint)(offset + reg.Base);
            ulong last = LastByte(offset, bytes);
            return Math.Max(offset, last) >> 16 == 0;
        }

        if ((cpu.EferValue & Efer.LMA) != 0 && cpu.Segments[X86Cpu.CS].Long)
        {
            // LONG MODE: user segments are always treated as present; FS and GS add their base;
            // canonical form is checked on the first byte of an upper-half address, else the last.
            if (seg >= X86Cpu.FS)
                linear += reg.Base;
            ulong last = linear + span;
            return X86Cpu.IsCanonical((long)linear < 0 ? linear : last);
        }

        // PROTECTED/COMPATIBILITY MODE: truncated to 32 bits (never to 16 in 16-bit address size).
        linear = (uint)(offset + reg.Base);

        bool usable = reg.Usable && reg.Present;
        if (!usable && xsa191)
        {
            linear = (uint)offset;
            return true;
        }

        // "Segment not valid for use (cooked meaning of .p)".
        if (!usable)
            return false;

        bool user = reg.IsCodeOrData;
        int type = reg.Type;
        if (user)
        {
            switch (access)
            {
                case AccessKind.Read when (type & 0xA) == 0x8:
                    return false; // execute-only code segment
                case AccessKind.Write when (type & 0xA) != 0x2:
                    return false; // not a writable data segment
                case AccessKind.Execute when (type & 0x8) == 0:
                    return false; // not a code segment
            }
        }

        ulong lastByte = LastByte(offset, bytes);
        if (user && (type & 0xC) == 0x4)
        {
            // Grows-down data segment: the upper bound is 0xFFFF without the B bit.
            if (!reg.DefaultBig)
                lastByte = (ushort)lastByte;
            return offset > reg.Limit && lastByte >= offset;
        }

        // Intel: an access may wrap (the AMD-only "access wraps" check does not apply).
        return lastByte <= reg.Limit;
    }

    /// <summary>
    /// <c>(uint32_t)offset + bytes - !!bytes</c>: 32-bit arithmetic, so the last byte of an access
    /// that crosses 4 GiB wraps below the first (caught for expand-down segments, allowed on Intel
    /// for expand-up ones).
    /// </summary>
    private static uint LastByte(ulong offset, int bytes) => (uint)offset + (uint)bytes - (bytes == 0 ? 0u : 1u);
}
