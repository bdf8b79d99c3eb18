namespace Xtf.Core.Cpu.Segmentation;

/// <summary>An 8-byte segment or gate descriptor as stored in the GDT/LDT/IDT (SDM vol. 3, 3.4.5).</summary>
public readonly struct SegmentDescriptor
{
    /// <summary>Wraps the descriptor's 8 bytes as read from the table (little-endian quadword).</summary>
    public SegmentDescriptor(ulong raw) => Raw = raw;

    /// <summary>The descriptor as a little-endian quadword: bits 0-31 are the low dword, 32-63 the high dword.</summary>
    public ulong Raw { get; }

    /// <summary>Segment base, 32 bits: descriptor bits 16-39 (base 23:0) and 56-63 (base 31:24).</summary>
    public ulong Base => ((Raw >> 16) & 0xFFFFFF) | (((Raw >> 56) & 0xFF) << 24);

    /// <summary>The 20-bit limit field as stored (bits 0-15 and 48-51), before G scaling.</summary>
    public uint RawLimit => (uint)((Raw & 0xFFFF) | (((Raw >> 48) & 0xF) << 16));

    /// <summary>G (bit 55): the limit counts 4 KiB units rather than bytes.</summary>
    public bool Granularity => (Raw & (1ul << 55)) != 0;

    /// <summary>Limit in bytes: with G set the limit is in 4 KiB units, low 12 bits all ones.</summary>
    public uint EffectiveLimit => Granularity ? (RawLimit << 12) | 0xFFF : RawLimit;

    /// <summary>Access byte in bits 0-7, flags nibble (AVL, L, D/B, G) in bits 12-15.</summary>
    public ushort Attributes => (ushort)(((Raw >> 40) & 0xFF) | (((Raw >> 52) & 0xF) << 12));

    /// <summary>The 4-bit type field (bits 40-43): code/data type with S set, system type (<see cref="SystemDescriptorType"/>) with S clear.</summary>
    public int Type => (int)((Raw >> 40) & 0xF);

    /// <summary>S (bit 44): a code or data descriptor rather than a system descriptor.</summary>
    public bool IsCodeOrData => (Raw & (1ul << 44)) != 0;

    /// <summary>A code segment: S set and type bit 3 set.</summary>
    public bool IsCode => IsCodeOrData && (Type & 8) != 0;

    /// <summary>A system descriptor (TSS, LDT or gate): S clear.</summary>
    public bool IsSystem => !IsCodeOrData;

    /// <summary>Descriptor privilege level, bits 45-46.</summary>
    public int Dpl => (int)((Raw >> 45) & 3);

    /// <summary>P (bit 47); loading a non-present descriptor raises #NP (#SS for SS).</summary>
    public bool Present => (Raw & (1ul << 47)) != 0;

    /// <summary>A conforming code segment (type bit 2): callable from any CPL &gt;= DPL without a privilege change.</summary>
    public bool Conforming => IsCode && (Type & 4) != 0;

    /// <summary>Readable: data segments always, code segments when type bit 1 is set.</summary>
    public bool Readable => IsCodeOrData && (!IsCode || (Type & 2) != 0);

    /// <summary>A writable data segment (type bit 1 with bit 3 clear); code segments are never writable.</summary>
    public bool Writable => IsCodeOrData && !IsCode && (Type & 2) != 0;

    /// <summary>Accessed (type bit 0), set by the processor on a segment load.</summary>
    public bool Accessed => (Type & 1) != 0;

    /// <summary>L (bit 53): 64-bit code segment in IA-32e mode.</summary>
    public bool Long => (Raw & (1ul << 53)) != 0;

    /// <summary>D/B (bit 54): 32-bit default operand/address size (code), 32-bit stack pointer (stack), or 4 GiB upper bound (expand-down data).</summary>
    public bool DefaultBig => (Raw & (1ul << 54)) != 0;

    // Gate view (SDM vol. 3, 6.11 and 5.8.3).
    /// <summary>Gate's target code segment selector (bits 16-31); for a task gate, the TSS selector.</summary>
    public ushort GateSelector => (ushort)(Raw >> 16);

    /// <summary>Gate's 32-bit entry offset (bits 0-15 and 48-63); a 64-bit gate's upper 32 bits are in the next quadword.</summary>
    public uint GateOffset => (uint)((Raw & 0xFFFF) | ((Raw >> 32) & 0xFFFF0000));

    /// <summary>Call gate parameter count (bits 32-36): stack words (16-bit gate) or dwords (32-bit gate) copied on a privilege-changing call (SDM vol. 3, 5.8.5).</summary>
    public int GateParameterCount => (int)((Raw >> 32) & 0x1F);

    /// <summary>Interrupt Stack Table index of a 64-bit IDT gate, bits 32-34 (SDM vol. 3, 6.14.1 and 6.14.5).</summary>
    public int GateIst => (int)((Raw >> 32) & 7);

    /// <summary>A 64-bit code segment (IA-32e mode): L set and D clear; L and D both set is reserved (SDM vol. 3, 5.2.1).</summary>
    public bool Is64BitCode => IsCode && Long && !DefaultBig;

    /// <summary>A flat 4 GiB 32-bit execute/read code segment (type 0xB with accessed set, D = 1, G = 1), conforming when <paramref name="conforming"/>.</summary>
    public static SegmentDescriptor Code32(int dpl, bool conforming = false) =>
        Flat(0xA | (conforming ? 4 : 0), dpl, big: true);

    /// <summary>A flat 4 GiB 32-bit read/write data segment (type 0x3 with accessed set, B = 1, G = 1).</summary>
    public static SegmentDescriptor Data32(int dpl) => Flat(0x2, dpl, big: true);

    /// <summary>A 64-bit code segment (L = 1, D = 0), readable, nonconforming unless <paramref name="conforming"/>.</summary>
    public static SegmentDescriptor Code64(int dpl, bool conforming = false) =>
        Flat(0xA | (conforming ? 4 : 0), dpl, big: false, longMode: true);

    /// <summary>A flat 4 GiB code or data descriptor, accessed bit set.</summary>
    public static SegmentDescriptor Flat(int type, int dpl, bool big, bool longMode = false)
    {
        ulong raw = 0xFFFF | (0xFul << 48);
        raw |= (ulong)(type | 1 | 0x10 | (dpl << 5) | 0x80) << 40;
        raw |= 1ul << 55;
        if (big)
            raw |= 1ul << 54;
        if (longMode)
            raw |= 1ul << 53;
        return new SegmentDescriptor(raw);
    }

    /// <summary>A system descriptor (TSS, LDT) with byte granularity.</summary>
    public static SegmentDescriptor System(int type, ulong @base, uint limit, int dpl = 0)
    {
        ulong raw = (limit & 0xFFFF) | ((ulong)(limit >> 16 & 0xF) << 48);
        raw |= (@base & 0xFFFFFF) << 16 | ((@base >> 24) & 0xFF) << 56;
        raw |= (ulong)(type | (dpl << 5) | 0x80) << 40;
        return new SegmentDescriptor(raw);
    }

    /// <summary>
    /// A code or data descriptor (S set): <paramref name="type"/> is the 4-bit type (bit 3 code,
    /// bit 2 conforming/expand-down, bit 1 readable/writable, bit 0 accessed); <paramref name="limit"/>
    /// is the raw 20-bit limit, in 4 KiB units when <paramref name="granular"/>.
    /// </summary>
    public static SegmentDescriptor CodeOrData(int type, ulong @base, uint limit, int dpl, bool big = true,
        bool granular = false, bool present = true)
    {
        ulong raw = System(type | 0x10, @base, limit, dpl).Raw;
        if (!present)
            raw &= ~(1ul << 47);
        if (big)
            raw |= 1ul << 54;
        if (granular)
            raw |= 1ul << 55;
        return new SegmentDescriptor(raw);
    }

    /// <summary>
    /// A gate: interrupt (0xE/0x6), trap (0xF/0x7), call (0xC/0x4, with <paramref name="parameterCount"/>
    /// words or dwords to copy) or task (0x5; <paramref name="selector"/> names the TSS).
    /// </summary>
    public static SegmentDescriptor Gate(int type, ushort selector, uint offset, int dpl, bool present = true, int parameterCount = 0)
    {
        ulong raw = (offset & 0xFFFF) | ((ulong)selector << 16) | ((ulong)(parameterCount & 0x1F) << 32);
        raw |= (ulong)(type | (dpl << 5) | (present ? 0x80 : 0)) << 40;
        raw |= (ulong)(offset & 0xFFFF0000) << 32;
        return new SegmentDescriptor(raw);
    }
}

/// <summary>System descriptor types (SDM vol. 3, table 3-2).</summary>
public static class SystemDescriptorType
{
    /// <summary>Type 1: available 16-bit TSS (reserved in IA-32e mode).</summary>
    public const int Tss16Available = 1;
    /// <summary>Type 2: LDT descriptor (16 bytes in IA-32e mode).</summary>
    public const int Ldt = 2;
    /// <summary>Type 3: busy 16-bit TSS (reserved in IA-32e mode).</summary>
    public const int Tss16Busy = 3;
    /// <summary>Type 4: 16-bit call gate (reserved in IA-32e mode).</summary>
    public const int CallGate16 = 4;
    /// <summary>Type 5: task gate (reserved in IA-32e mode).</summary>
    public const int TaskGate = 5;
    /// <summary>Type 6: 16-bit interrupt gate (reserved in IA-32e mode).</summary>
    public const int InterruptGate16 = 6;
    /// <summary>Type 7: 16-bit trap gate (reserved in IA-32e mode).</summary>
    public const int TrapGate16 = 7;
    /// <summary>Type 9: available 32-bit TSS.</summary>
    public const int Tss32Available = 9;
    /// <summary>Type 0xB: busy 32-bit TSS.</summary>
    public const int Tss32Busy = 0xB;
    /// <summary>Type 0xC: 32-bit call gate.</summary>
    public const int CallGate32 = 0xC;
    /// <summary>Type 0xE: 32-bit interrupt gate (clears EFLAGS.IF on delivery).</summary>
    public const int InterruptGate32 = 0xE;
    /// <summary>Type 0xF: 32-bit trap gate (leaves EFLAGS.IF unchanged).</summary>
    public const int TrapGate32 = 0xF;

    // IA-32e mode redefines types 9, 0xB, 0xC, 0xE and 0xF as their 64-bit forms (SDM vol. 3,
    // table 3-2); types 1, 3, 4, 5, 6 and 7 are reserved there.
    /// <summary>Type 9 in IA-32e mode: available 64-bit TSS (16-byte descriptor).</summary>
    public const int Tss64Available = 9;
    /// <summary>Type 0xB in IA-32e mode: busy 64-bit TSS.</summary>
    public const int Tss64Busy = 0xB;
    /// <summary>Type 0xC in IA-32e mode: 64-bit call gate (16 bytes, no parameter copying).</summary>
    public const int CallGate64 = 0xC;
    /// <summary>Type 0xE in IA-32e mode: 64-bit interrupt gate (16 bytes, clears EFLAGS.IF).</summary>
    public const int InterruptGate64 = 0xE;
    /// <summary>Type 0xF in IA-32e mode: 64-bit trap gate (16 bytes, leaves EFLAGS.IF).</summary>
    public const int TrapGate64 = 0xF;
}
