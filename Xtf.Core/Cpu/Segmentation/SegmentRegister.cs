namespace Xtf.Core.Cpu.Segmentation;

/// <summary>
/// A segment register: the visible selector and the hidden descriptor cache (SDM vol. 3, 3.4.3).
/// The cache keeps base, limit and attributes from the last load until the next one, whatever
/// happens to the descriptor table in between.
/// </summary>
public sealed class SegmentRegister
{
    public ushort Selector;
    public ulong Base;

    /// <summary>The effective (byte-granular) limit.</summary>
    public uint Limit;

    /// <summary>Descriptor attributes: access byte in bits 0-7, AVL/L/D/G in bits 12-15.</summary>
    public ushort Attributes;

    /// <summary>False for a null selector loaded into a data segment register.</summary>
    public bool Usable;

    public int Rpl => Selector & 3;

    public int Dpl => (Attributes >> 5) & 3;

    public bool Present => (Attributes & 0x80) != 0;

    public int Type => Attributes & 0xF;

    /// <summary>S bit: code or data (as opposed to system) descriptor.</summary>
    public bool IsCodeOrData => (Attributes & 0x10) != 0;

    public bool IsCode => IsCodeOrData && (Type & 8) != 0;

    /// <summary>D/B bit: 32-bit default operand size (code) or 32-bit stack pointer (stack).</summary>
    public bool DefaultBig => (Attributes & 0x4000) != 0;

    /// <summary>L bit: 64-bit code segment.</summary>
    public bool Long => (Attributes & 0x2000) != 0;

    public bool ExpandDown => IsCodeOrData && !IsCode && (Type & 4) != 0;

    public bool Writable => IsCodeOrData && !IsCode && (Type & 2) != 0;

    /// <summary>Readable: data segments always, code segments when type bit 1 is set.</summary>
    public bool Readable => IsCodeOrData && (!IsCode || (Type & 2) != 0);

    public bool Conforming => IsCode && (Type & 4) != 0;

    public void Load(ushort selector, in SegmentDescriptor d)
    {
        Selector = selector;
        Base = d.Base;
        Limit = d.EffectiveLimit;
        Attributes = d.Attributes;
        Usable = true;
    }

    /// <summary>Real-mode and virtual-8086 load: base = selector * 16, cache otherwise unchanged.</summary>
    public void LoadReal(ushort selector)
    {
        Selector = selector;
        Base = (ulong)selector << 4;
        Usable = true;
    }

    /// <summary>
    /// Virtual-8086 load (SDM vol. 3, chapter 20, and the VM-entry checks on guest segment registers in
    /// virtual-8086 mode): base = selector * 16, limit 0xFFFF, a present, accessed, read/write data segment of DPL 3.
    /// </summary>
    public void LoadVirtual8086(ushort selector)
    {
        LoadReal(selector);
        Limit = 0xFFFF;
        Attributes = 0xF3;
    }

    public void LoadNull(ushort selector)
    {
        Selector = selector;
        Usable = false;
        Attributes = 0;
        Base = 0;
        Limit = 0;
    }

    public void CopyFrom(SegmentRegister other)
    {
        Selector = other.Selector;
        Base = other.Base;
        Limit = other.Limit;
        Attributes = other.Attributes;
        Usable = other.Usable;
    }

    public override string ToString() => $"{Selector:x4} base {Base:x} limit {Limit:x} attr {Attributes:x4}";
}
