namespace Xtf.Core.Cpu.Segmentation;

/// <summary>
/// A segment register: the visible selector and the hidden descriptor cache (SDM vol. 3, 3.4.3).
/// The cache keeps base, limit and attributes from the last load until the next one, whatever
/// happens to the descriptor table in between.
/// </summary>
public sealed class SegmentRegister
{
    /// <summary>The visible 16-bit selector: index (bits 15:3), TI (bit 2), RPL (bits 1:0).</summary>
    public ushort Selector;
    /// <summary>Cached segment base (linear address; FS/GS may hold 64-bit bases in long mode).</summary>
    public ulong Base;

    /// <summary>The effective (byte-granular) limit.</summary>
    public uint Limit;

    /// <summary>Descriptor attributes: access byte in bits 0-7, AVL/L/D/G in bits 12-15.</summary>
    public ushort Attributes;

    /// <summary>False for a null selector loaded into a data segment register.</summary>
    public bool Usable;

    /// <summary>Requested privilege level, selector bits 1:0 (for CS and SS this is the CPL).</summary>
    public int Rpl => Selector & 3;

    /// <summary>Cached descriptor privilege level (attribute bits 5-6).</summary>
    public int Dpl => (Attributes >> 5) & 3;

    /// <summary>Cached P bit (attribute bit 7).</summary>
    public bool Present => (Attributes & 0x80) != 0;

    /// <summary>Cached 4-bit descriptor type (attribute bits 0-3).</summary>
    public int Type => Attributes & 0xF;

    /// <summary>S bit: code or data (as opposed to system) descriptor.</summary>
    public bool IsCodeOrData => (Attributes & 0x10) != 0;

    /// <summary>A code segment: S set and type bit 3 set.</summary>
    public bool IsCode => IsCodeOrData && (Type & 8) != 0;

    /// <summary>D/B bit: 32-bit default operand size (code) or 32-bit stack pointer (stack).</summary>
    public bool DefaultBig => (Attributes & 0x4000) != 0;

    /// <summary>L bit: 64-bit code segment.</summary>
    public bool Long => (Attributes & 0x2000) != 0;

    /// <summary>An expand-down data segment (type bit 2): valid offsets run from limit + 1 to 0xFFFF (B clear) or 0xFFFFFFFF (B set) (SDM vol. 3, 5.3).</summary>
    public bool ExpandDown => IsCodeOrData && !IsCode && (Type & 4) != 0;

    /// <summary>A writable data segment (type bit 1 with bit 3 clear).</summary>
    public bool Writable => IsCodeOrData && !IsCode && (Type & 2) != 0;

    /// <summary>Readable: data segments always, code segments when type bit 1 is set.</summary>
    public bool Readable => IsCodeOrData && (!IsCode || (Type & 2) != 0);

    /// <summary>A conforming code segment (type bit 2 with bit 3 set).</summary>
    public bool Conforming => IsCode && (Type & 4) != 0;

    /// <summary>Protected-mode load after the caller's checks: selector, base, byte-granular limit and attributes from <paramref name="d"/>; marks the register usable. Does not set the descriptor's accessed bit in memory.</summary>
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

    /// <summary>Null selector load (SDM vol. 3, 3.4.2): legal for DS/ES/FS/GS (and SS at CPL &lt; 3 in 64-bit mode); clears the cache and marks the register unusable, so a later access through it outside 64-bit mode raises #GP(0) (#SS(0) for SS).</summary>
    public void LoadNull(ushort selector)
    {
        Selector = selector;
        Usable = false;
        Attributes = 0;
        Base = 0;
        Limit = 0;
    }

    /// <summary>
    /// LLDT with a null selector (SDM: LLDT, "the LDTR is marked invalid"): the register becomes
    /// unusable and its attributes are cleared, while base and limit stay as they were. The SDM
    /// leaves the hidden fields undefined; this is AMD's behaviour as Xen 04beafa8e6 (XSA-191)
    /// and XTF tests/xsa-191 describe it ("the base and limit fields are left stale, and the
    /// attributes are zeroed"), which every LDT reference ignores as it checks usability first.
    /// </summary>
    public void Invalidate(ushort selector)
    {
        Selector = selector;
        Usable = false;
        Attributes = 0;
    }

    /// <summary>Copies the selector and whole descriptor cache from <paramref name="other"/>.</summary>
    public void CopyFrom(SegmentRegister other)
    {
        Selector = other.Selector;
        Base = other.Base;
        Limit = other.Limit;
        Attributes = other.Attributes;
        Usable = other.Usable;
    }

    /// <summary>Selector, base, limit and attributes in hex, for diagnostics.</summary>
    public override string ToString() => $"{Selector:x4} base {Base:x} limit {Limit:x} attr {Attributes:x4}";
}
