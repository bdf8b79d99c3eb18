namespace Xtf.Core.Cpu.Segmentation;

/// <summary>An 8-byte segment or gate descriptor as stored in the GDT/LDT/IDT (SDM vol. 3, 3.4.5).</summary>
public readonly struct SegmentDescriptor
{
    public SegmentDescriptor(ulong raw) => Raw = raw;

    public ulong Raw { get; }

    public ulong Base => ((Raw >> 16) & 0xFFFFFF) | (((Raw >> 56) & 0xFF) << 24);

    public uint RawLimit => (uint)((Raw & 0xFFFF) | (((Raw >> 48) & 0xF) << 16));

    public bool Granularity => (Raw & (1ul << 55)) != 0;

    /// <summary>Limit in bytes: with G set the limit is in 4 KiB units, low 12 bits all ones.</summary>
    public uint EffectiveLimit => Granularity ? (RawLimit << 12) | 0xFFF : RawLimit;

    /// <summary>Access byte in bits 0-7, flags nibble (AVL, L, D/B, G) in bits 12-15.</summary>
    public ushort Attributes => (ushort)(((Raw >> 40) & 0xFF) | (((Raw >> 52) & 0xF) << 12));

    public int Type => (int)((Raw >> 40) & 0xF);

    public bool IsCodeOrData => (Raw & (1ul << 44)) != 0;

    public bool IsCode => IsCodeOrData && (Type & 8) != 0;

    public bool IsSystem => !IsCodeOrData;

    public int Dpl => (int)((Raw >> 45) & 3);

    public bool Present => (Raw & (1ul << 47)) != 0;

    public bool Conforming => IsCode && (Type & 4) != 0;

    public bool Readable => IsCodeOrData && (!IsCode || (Type & 2) != 0);

    public bool Writable => IsCodeOrData && !IsCode && (Type & 2) != 0;

    public bool Accessed => (Type & 1) != 0;

    public bool Long => (Raw & (1ul << 53)) != 0;

    public bool DefaultBig => (Raw & (1ul << 54)) != 0;

    // Gate view (SDM vol. 3, 6.11 and 5.8.3).
    public ushort GateSelector => (ushort)(Raw >> 16);

    public uint GateOffset => (uint)((Raw & 0xFFFF) | ((Raw >> 32) & 0xFFFF0000));

    public int GateParameterCount => (int)((Raw >> 32) & 0x1F);

    /// <summary>Interrupt Stack Table index of a 64-bit IDT gate, bits 32-34 (SDM vol. 3, 6.14.1 and 6.14.5).</summary>
    public int GateIst => (int)((Raw >> 32) & 7);

    /// <summary>A 64-bit code segment (IA-32e mode): L set and D clear; L and D both set is reserved (SDM vol. 3, 5.2.1).</summary>
    public bool Is64BitCode => IsCode && Long && !DefaultBig;

    public static SegmentDescriptor Code32(int dpl, bool conforming = false) =>
        Flat(0xA | (conforming ? 4 : 0), dpl, big: true);

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
    public const int Tss16Available = 1;
    public const int Ldt = 2;
    public const int Tss16Busy = 3;
    public const int CallGate16 = 4;
    public const int TaskGate = 5;
    public const int InterruptGate16 = 6;
    public const int TrapGate16 = 7;
    public const int Tss32Available = 9;
    public const int Tss32Busy = 0xB;
    public const int CallGate32 = 0xC;
    public const int InterruptGate32 = 0xE;
    public const int TrapGate32 = 0xF;

    // IA-32e mode redefines types 9, 0xB, 0xC, 0xE and 0xF as their 64-bit forms (SDM vol. 3,
    // table 3-2); types 1, 3, 4, 5, 6 and 7 are reserved there.
    public const int Tss64Available = 9;
    public const int Tss64Busy = 0xB;
    public const int CallGate64 = 0xC;
    public const int InterruptGate64 = 0xE;
    public const int TrapGate64 = 0xF;
}
