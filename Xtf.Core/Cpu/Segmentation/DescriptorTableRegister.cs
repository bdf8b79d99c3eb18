namespace Xtf.Core.Cpu.Segmentation;

/// <summary>GDTR or IDTR: linear base and 16-bit limit (SDM vol. 3, 2.4).</summary>
public sealed class DescriptorTableRegister
{
    /// <summary>Linear base address of the table (upper 32 bits zero outside long mode).</summary>
    public ulong Base;
    /// <summary>Table limit in bytes: the offset of the last valid byte (8 * entries - 1 for a full table).</summary>
    public ushort Limit;
}
