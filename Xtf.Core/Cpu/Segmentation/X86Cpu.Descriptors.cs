using Xtf.Core.Cpu.Segmentation;

namespace Xtf.Core.Cpu;

/// <summary>Descriptor-table access (SDM vol. 3, 3.5.1): implicit supervisor reads of GDT/LDT/IDT.</summary>
public sealed partial class X86Cpu
{
    /// <summary>
    /// Reads the descriptor a selector names from the GDT (TI=0) or LDT (TI=1). A selector beyond
    /// the table limit (or naming an unusable LDT) raises <paramref name="vector"/> with the
    /// selector as error code (and EXT when <paramref name="external"/>).
    /// </summary>
    internal SegmentDescriptor ReadDescriptor(ushort selector, X86Vector vector = X86Vector.GP, bool external = false)
    {
        ulong tableBase;
        uint limit;
        if ((selector & 4) != 0)
        {
            if (!Ldtr.Usable)
                throw new CpuFault(vector, SelectorErrorCode(selector, external));
            tableBase = Ldtr.Base;
            limit = Ldtr.Limit;
        }
        else
        {
            tableBase = Gdtr.Base;
            limit = Gdtr.Limit;
        }

        uint offset = (uint)(selector & 0xFFF8);
        if (offset + 7 > limit)
            throw new CpuFault(vector, SelectorErrorCode(selector, external));
        return new SegmentDescriptor(ReadImplicit(DescriptorAddress(tableBase, offset), 8));
    }

    /// <summary>
    /// Bytes 8-15 of a 16-byte system descriptor (LDT, TSS, call gate) of IA-32e mode (SDM vol. 3,
    /// 3.5 and 5.8.3.1): the whole descriptor must lie within its table's limit, else
    /// <paramref name="vector"/>(selector). The caller has read bytes 0-7 with <see cref="ReadDescriptor"/>.
    /// </summary>
    internal ulong ReadDescriptorHigh(ushort selector, X86Vector vector = X86Vector.GP, bool external = false)
    {
        bool local = (selector & 4) != 0;
        ulong tableBase = local ? Ldtr.Base : Gdtr.Base;
        uint limit = local ? Ldtr.Limit : Gdtr.Limit;
        uint offset = (uint)(selector & 0xFFF8);
        if (offset + 15 > limit)
            throw new CpuFault(vector, SelectorErrorCode(selector, external));
        return ReadImplicit(DescriptorAddress(tableBase, offset + 8), 8);
    }

    /// <summary>Sets the accessed bit of a code/data descriptor (SDM vol. 3, 3.4.5.1), as a locked write.</summary>
    internal void SetAccessed(ushort selector, SegmentDescriptor d)
    {
        if (d.Accessed)
            return;
        ulong tableBase = (selector & 4) != 0 ? Ldtr.Base : Gdtr.Base;
        ulong la = DescriptorAddress(tableBase, (uint)(selector & 0xFFF8)) + 5;
        WriteImplicit(la, 1, (d.Raw >> 40) | 1);
    }

    /// <summary>Sets or clears the busy bit of a TSS descriptor in the GDT.</summary>
    internal void SetTssBusy(ushort selector, bool busy)
    {
        ulong la = DescriptorAddress(Gdtr.Base, (uint)(selector & 0xFFF8)) + 5;
        ulong access = ReadImplicit(la, 1);
        WriteImplicit(la, 1, busy ? access | 2 : access & ~2ul);
    }

    private ulong DescriptorAddress(ulong tableBase, uint offset) =>
        LongMode ? tableBase + offset : (tableBase + offset) & 0xFFFFFFFF;

    internal static uint SelectorErrorCode(ushort selector, bool external) =>
        (uint)(selector & 0xFFFC) | (external ? 1u : 0);
}
