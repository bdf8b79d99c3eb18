namespace Xtf.Core.Cpu.Segmentation;

/// <summary>GDTR or IDTR: linear base and 16-bit limit (SDM vol. 3, 2.4).</summary>
public sealed class DescriptorTableRegister
{
    public ulong Base;
    public ushort Limit;
}
