using System.Buffers.Binary;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>
/// Memory access as instructions make it: logical (segment:offset) to linear through the segment
/// cache with its checks, linear to physical through paging, then RAM.
/// </summary>
public sealed partial class X86Cpu
{
    private const ulong PageMask = 0xFFF;

    /// <summary>
    /// Logical to linear address of an access the instruction makes at the current privilege level,
    /// with the segment checks of <see cref="SegmentLinear"/>, then the alignment check (#AC after
    /// #GP/#SS and before #PF, as the access is translated only later), and data breakpoints.
    /// </summary>
    public ulong LinearAddress(int seg, ulong offset, int size, AccessKind kind)
    {
        if (AccessAgent is { } agent)
            return agent.Linear(seg, offset, size, kind);
        ulong la = SegmentLinear(seg, offset, size, kind);
        CheckLinearAccess(la, size, kind);
        return la;
    }

    /// <summary>
    /// The checks of an access after segmentation: alignment (#AC) and data breakpoints. For a
    /// hypervisor's emulator that makes the segment checks itself.
    /// </summary>
    internal void CheckLinearAccess(ulong la, int size, AccessKind kind)
    {
        if (AlignmentChecking)
            CheckAlignment(la, size);
        if (BreakpointsEnabled)
            MatchDataBreakpoints(la, size, kind);
    }

    /// <summary>
    /// Logical to linear address with the segment checks of SDM vol. 3, 5.3 and 5.4: a null
    /// (unusable) segment, the type (write to a read-only or code segment, read of execute-only
    /// code) and the limit (expand-up and expand-down). Faults through SS raise #SS(0), others #GP(0).
    /// </summary>
    private ulong SegmentLinear(int seg, ulong offset, int size, AccessKind kind)
    {
        var s = Segments[seg];
        if (Bitness == 64)
        {
            ulong la = offset;
            if (seg >= FS)
                la += s.Base;
            if (!IsCanonical(la) || !IsCanonical(la + (ulong)size - 1))
                throw new CpuFault(seg == SS ? X86Vector.SS : X86Vector.GP, 0);
            return la;
        }

        return CheckedLinear(s, seg == SS ? X86Vector.SS : X86Vector.GP, 0, offset, size, kind);
    }

    /// <summary>
    /// SDM vol. 3, 6.15 (interrupt 17) and 2.5 (CR0.AM): alignment checking is on at CPL 3 with
    /// CR0.AM and EFLAGS.AC both set (virtual-8086 mode included, since its CPL is 3). It applies to
    /// the accesses an instruction makes at CPL 3; the processor's implicit supervisor accesses
    /// (descriptor tables, the TSS, an interrupt frame pushed on an inner stack) do not come
    /// through <see cref="LinearAddress"/> and are not checked.
    /// </summary>
    internal bool AlignmentChecking =>
        Cpl == 3 && (eflags & RFlags.AC) != 0 && (Cr0Value & Cr0.AM) != 0;

    /// <summary>
    /// SDM vol. 3, table 6-7: a word must be 2-aligned, a doubleword 4-aligned, a quadword (and
    /// larger operands) 8-aligned; bytes are never misaligned. Far pointers and descriptor-table
    /// images are accessed as their parts (offset, then selector), each checked for its own size.
    /// </summary>
    private static void CheckAlignment(ulong linear, int size)
    {
        ulong mask = size >= 8 ? 7ul : size >= 4 ? 3ul : size >= 2 ? 1ul : 0;
        if ((linear & mask) != 0)
            throw new CpuFault(X86Vector.AC, 0);
    }

    /// <summary>
    /// The segment checks of <see cref="LinearAddress"/> against any segment cache (also one not
    /// yet loaded, such as the inner stack during interrupt delivery); violations raise
    /// <paramref name="vector"/>(<paramref name="errorCode"/>).
    /// </summary>
    internal ulong CheckedLinear(SegmentRegister s, X86Vector vector, uint errorCode, ulong offset, int size, AccessKind kind)
    {
        if (ProtectedMode && !Virtual8086)
        {
            if (!s.Usable)
                throw new CpuFault(vector, errorCode);
            if (kind == AccessKind.Write ? !s.Writable : !s.Readable)
                throw new CpuFault(vector, errorCode);
        }

        ulong last = offset + (ulong)size - 1;
        if (s.ExpandDown)
        {
            // SDM vol. 3, 5.3: valid offsets of an expand-down segment run from limit+1 to 0xFFFF
            // (B clear) or 0xFFFFFFFF (B set).
            ulong upper = s.DefaultBig ? 0xFFFFFFFFul : 0xFFFFul;
            if (offset <= s.Limit || last > upper)
                throw new CpuFault(vector, errorCode);
        }
        else if (last > s.Limit)
        {
            throw new CpuFault(vector, errorCode);
        }

        return (s.Base + offset) & 0xFFFFFFFF;
    }

    /// <summary>
    /// The linear address of segment:offset with no check at all, for instructions that only name
    /// an address and never fault on it (INVLPG; SDM vol. 2, INVLPG).
    /// </summary>
    internal ulong UncheckedLinear(int seg, ulong offset) => Bitness == 64
        ? (seg >= FS ? offset + Segments[seg].Base : offset)
        : (Segments[seg].Base + offset) & 0xFFFFFFFF;

    /// <summary>True when bits 63:47 of <paramref name="la"/> are all equal (48-bit canonical form, SDM vol. 1, 3.3.7.1).</summary>
    public static bool IsCanonical(ulong la) => (ulong)((long)(la << 16) >> 16) == la;

    private readonly Tlb tlb = new();

    /// <summary>
    /// Who carries out the current instruction's accesses: null for the processor itself, or a
    /// hypervisor's emulator executing the instruction with the processor's semantics (see
    /// <see cref="IAccessAgent"/>). Set only around one emulated instruction.
    /// </summary>
    public IAccessAgent? AccessAgent { get; set; }

    /// <summary>
    /// Drops every cached translation, global ones included: what a hypervisor's INVVPID
    /// single-context (SDM vol. 3, VMX instruction reference, INVVPID type 1) or a new ASID does for its guest. Guest
    /// instructions never reach this; they flush through CR3, CR4 and INVLPG.
    /// </summary>
    public void InvalidateAllTranslations() => tlb.FlushAll();

    /// <summary>
    /// Linear to physical (SDM vol. 3, chapter 4): through the TLB, else a page walk whose result
    /// is cached. Without CR0.PG the two addresses are the same.
    /// </summary>
    public ulong Translate(ulong linear, AccessKind kind, bool user) => Translate(linear, kind, user, implicitAccess: false);

    /// <summary>
    /// An implicit supervisor-mode access (SDM vol. 3, 4.6): descriptor tables, the TSS, the
    /// stacks of event delivery and call gates, the I/O bitmap. Supervisor whatever the CPL, and
    /// SMAP applies to it whatever EFLAGS.AC says.
    /// </summary>
    internal ulong TranslateImplicit(ulong linear, AccessKind kind) => Translate(linear, kind, user: false, implicitAccess: true);

    private ulong Translate(ulong linear, AccessKind kind, bool user, bool implicitAccess)
    {
        if (AccessAgent is { } agent)
            return agent.Translate(linear, kind, implicitAccess);
        if ((Cr0Value & Cr0.PG) == 0)
            return linear & 0xFFFFFFFF;
        ref var slot = ref tlb.Slot(linear);
        if (Tlb.Hits(slot, linear, PageWalker.Need(this, kind, user, implicitAccess)))
            return slot.Frame | (linear & PageMask);

        // A cached translation that does not allow the access is dropped before the walk: the walk
        // sees the paging structures as they are now, and a #PF invalidates the entries for the
        // faulting address anyway (SDM vol. 3, 4.10.4.3).
        slot.Tag = 0;
        ulong physical = PageWalker.Translate(this, linear, kind, user, implicitAccess, out var entry);
        tlb.Fill(linear, entry);
        return physical;
    }

    /// <summary>INVLPG (SDM vol. 3, 4.10.4.1): drops the translations of the page holding <paramref name="linear"/>.</summary>
    internal void InvalidatePage(ulong linear)
    {
        tlb.FlushPage(linear);
        InvalidateFetchWindow();
    }

    /// <summary>Reads <paramref name="size"/> bytes (1, 2, 4 or 8, little-endian) at seg:offset as the current instruction would: segment checks, alignment check and paging at the current CPL. <paramref name="seg"/> is a segment register number (<see cref="ES"/>..<see cref="GS"/>). Faults throw <see cref="CpuFault"/>.</summary>
    public ulong ReadLogical(int seg, ulong offset, int size) =>
        ReadLinear(LinearAddress(seg, offset, size, AccessKind.Read), size, Cpl == 3);

    /// <summary>Writes the low <paramref name="size"/> bytes (1, 2, 4 or 8, little-endian) of <paramref name="value"/> at seg:offset with the checks of <see cref="ReadLogical"/> for a write access. Faults throw <see cref="CpuFault"/>.</summary>
    public void WriteLogical(int seg, ulong offset, int size, ulong value) =>
        WriteLinear(LinearAddress(seg, offset, size, AccessKind.Write), size, value, Cpl == 3);

    /// <summary>Reads 1, 2, 4 or 8 bytes at a linear address; <paramref name="user"/> is the paging privilege.</summary>
    public ulong ReadLinear(ulong linear, int size, bool user) => ReadLinear(linear, size, user, implicitAccess: false);

    /// <summary>Reads as an implicit supervisor access (see <see cref="TranslateImplicit"/>).</summary>
    public ulong ReadImplicit(ulong linear, int size) => ReadLinear(linear, size, user: false, implicitAccess: true);

    /// <summary>Writes as an implicit supervisor access (see <see cref="TranslateImplicit"/>).</summary>
    internal void WriteImplicit(ulong linear, int size, ulong value) => WriteLinear(linear, size, value, user: false, implicitAccess: true);

    private ulong ReadLinear(ulong linear, int size, bool user, bool implicitAccess)
    {
        if ((linear & PageMask) + (ulong)size <= 0x1000)
            return ReadPhysical(Translate(linear, AccessKind.Read, user, implicitAccess), size);

        // A split access checks both pages before touching either.
        ulong first = Translate(linear, AccessKind.Read, user, implicitAccess);
        ulong second = Translate((linear | PageMask) + 1, AccessKind.Read, user, implicitAccess);
        int inFirst = (int)(0x1000 - (linear & PageMask));
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            ulong pa = i < inFirst ? first + (ulong)i : second + (ulong)(i - inFirst);
            value |= ReadPhysical(pa, 1) << (8 * i);
        }

        return value;
    }

    /// <summary>Writes 1, 2, 4 or 8 bytes at a linear address; <paramref name="user"/> is the paging privilege. Page faults throw <see cref="CpuFault"/> #PF.</summary>
    public void WriteLinear(ulong linear, int size, ulong value, bool user) => WriteLinear(linear, size, value, user, implicitAccess: false);

    private void WriteLinear(ulong linear, int size, ulong value, bool user, bool implicitAccess)
    {
        if ((linear & PageMask) + (ulong)size <= 0x1000)
        {
            WritePhysical(Translate(linear, AccessKind.Write, user, implicitAccess), size, value);
            return;
        }

        ulong first = Translate(linear, AccessKind.Write, user, implicitAccess);
        ulong second = Translate((linear | PageMask) + 1, AccessKind.Write, user, implicitAccess);
        int inFirst = (int)(0x1000 - (linear & PageMask));
        for (int i = 0; i < size; i++)
        {
            ulong pa = i < inFirst ? first + (ulong)i : second + (ulong)(i - inFirst);
            WritePhysical(pa, 1, value >> (8 * i));
        }
    }

    /// <summary>Reads within one frame. Where no RAM is, the bus floats to all ones.</summary>
    public ulong ReadPhysical(ulong pa, int size)
    {
        byte[]? page = Memory.GetFrame(pa >> 12, forWrite: false);
        if (page is null)
            return SizeMask(size);
        var span = page.AsSpan((int)(pa & PageMask));
        return size switch
        {
            1 => span[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(span),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(span),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(span),
        };
    }

    /// <summary>Writes within one frame; a write to a frame holding decoded code invalidates it.</summary>
    public void WritePhysical(ulong pa, int size, ulong value)
    {
        ulong frame = pa >> 12;
        byte[]? page = Memory.GetFrame(frame, forWrite: true);
        if (page is null)
            return;
        var span = page.AsSpan((int)(pa & PageMask));
        switch (size)
        {
            case 1: span[0] = (byte)value; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(span, value); break;
        }

        decodeCache.OnWrite(frame);
    }

    /// <summary>Tells the decoded-instruction cache that something outside the CPU wrote a frame.</summary>
    public void InvalidateCode(ulong frame) => decodeCache.OnWrite(frame);
}
