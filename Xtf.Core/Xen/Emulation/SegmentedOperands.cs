using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// The emulator's own logical-to-linear translation of memory operands (Xen's
/// hvm_virtual_to_linear_addr), with the checks of SDM vol. 3, 5.3 and 5.4 and of 3.3.7.1 in
/// 64-bit mode. A violation through SS is #SS(0), through any other segment #GP(0). After it the
/// access meets the processor's own alignment check and data breakpoints, then paging.
/// </summary>
internal static class SegmentedOperands
{
    /// <summary>
    /// The segment of a memory operand (SDM vol. 1, 3.7.4): an override prefix, else SS for a base
    /// of (E/R)SP or (E/R)BP, else DS. In 64-bit mode ES, CS, SS and DS overrides are ignored
    /// (SDM vol. 1, 3.3.7.1), so the default applies.
    /// </summary>
    public static int Segment(HvmEmulator e, in Instruction i)
    {
        var seg = i.MemorySegment;
        if (e.Cpu.Bitness == 64 && seg is not (Register.FS or Register.GS))
            seg = i.MemoryBase is Register.RSP or Register.RBP or Register.ESP or Register.EBP ? Register.SS : Register.DS;
        return seg - Register.ES;
    }

    /// <summary>Reads the memory operand of <paramref name="i"/>.</summary>
    public static ulong Read(HvmEmulator e, in Instruction i, int size) =>
        ReadLogical(e, Segment(e, in i), e.Cpu.EffectiveAddress(i), size);

    /// <summary>Writes the memory operand of <paramref name="i"/>.</summary>
    public static void Write(HvmEmulator e, in Instruction i, int size, ulong value) =>
        WriteLogical(e, Segment(e, in i), e.Cpu.EffectiveAddress(i), size, value);

    public static ulong ReadLogical(HvmEmulator e, int seg, ulong offset, int size)
    {
        ulong la = Linear(e, seg, offset, size, AccessKind.Read);
        return e.Cpu.ReadLinear(la, size, user: e.Cpu.Cpl == 3);
    }

    public static void WriteLogical(HvmEmulator e, int seg, ulong offset, int size, ulong value)
    {
        ulong la = Linear(e, seg, offset, size, AccessKind.Write);
        e.Cpu.WriteLinear(la, size, value, user: e.Cpu.Cpl == 3);
    }

    /// <summary>
    /// Segment <paramref name="seg"/> : <paramref name="offset"/> to a linear address for an
    /// access of <paramref name="size"/> bytes, then the processor's alignment and breakpoint checks.
    /// </summary>
    public static ulong Linear(HvmEmulator e, int seg, ulong offset, int size, AccessKind kind)
    {
        var cpu = e.Cpu;
        var vector = seg == X86Cpu.SS ? X86Vector.SS : X86Vector.GP;
        ulong la = cpu.Bitness == 64
            ? Linear64(cpu.Segments[seg], seg, offset, size, vector)
            : Linear32(e, cpu.Segments[seg], seg, offset, size, kind, vector);
        cpu.CheckLinearAccess(la, size, kind);
        return la;
    }

    /// <summary>
    /// SDM vol. 3, 3.3.7.1 and 5.3.1: in 64-bit mode only FS and GS add a base, no segment has a
    /// limit or type check, and the first and last byte must be canonical.
    /// </summary>
    private static ulong Linear64(SegmentRegister s, int seg, ulong offset, int size, X86Vector vector)
    {
        ulong la = seg >= X86Cpu.FS ? offset + s.Base : offset;
        if (!X86Cpu.IsCanonical(la) || !X86Cpu.IsCanonical(la + (ulong)size - 1))
            throw new CpuFault(vector, 0);
        return la;
    }

    /// <summary>
    /// Protected mode (SDM vol. 3, 5.4.1 and 5.3): a null segment is unusable; a write needs a
    /// writable data segment, a read a data or readable code segment; the whole access lies within
    /// the limit (expand-up: offset + size - 1 &lt;= limit; expand-down: offset &gt; limit and the
    /// last byte within 0xFFFF, or 0xFFFFFFFF with B set). Real-address and virtual-8086 mode
    /// check the limit only. The linear address wraps at 4 GiB.
    /// </summary>
    private static ulong Linear32(HvmEmulator e, SegmentRegister s, int seg, ulong offset, int size, AccessKind kind, X86Vector vector)
    {
        var cpu = e.Cpu;
        bool protectedMode = cpu.ProtectedMode && !cpu.Virtual8086;
        uint limit = s.Limit;
        bool expandDown = s.ExpandDown, big = s.DefaultBig;
        if (protectedMode && !s.Usable && seg != X86Cpu.SS && e.Options.Has(Quirk.Xsa191))
        {
            // XSA-191: Xen used a data segment register loaded with null as if it were usable,
            // with what VMX leaves in the cache after such a load (base 0, limit 4 GiB - 1, the
            // attributes a constant): the access goes through as in a flat read/write segment.
            limit = uint.MaxValue;
            expandDown = false;
        }
        else if (protectedMode)
        {
            if (!s.Usable)
                throw new CpuFault(vector, 0);
            if (kind == AccessKind.Write ? !s.Writable : !s.Readable)
                throw new CpuFault(vector, 0);
        }

        ulong last = offset + (ulong)size - 1;
        bool outside = expandDown
            ? offset <= limit || last > (big ? 0xFFFFFFFFul : 0xFFFFul)
            : last > limit;
        if (outside)
            throw new CpuFault(vector, 0);
        return (s.Base + offset) & 0xFFFFFFFF;
    }
}
