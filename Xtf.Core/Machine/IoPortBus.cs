using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Machine;

/// <summary>A device on the I/O port bus.</summary>
public interface IPortDevice
{
    uint In(ushort port, int size);

    void Out(ushort port, int size, uint value);
}

/// <summary>
/// The I/O port address space. Ports nobody claims read as all ones and ignore writes, as an
/// unterminated ISA bus does.
/// </summary>
public sealed class IoPortBus : IIoPorts
{
    private readonly Dictionary<ushort, IPortDevice> devices = [];

    public void Attach(IPortDevice device, params ushort[] ports)
    {
        foreach (var p in ports)
            devices[p] = device;
    }

    public uint In(ushort port, int size) =>
        devices.TryGetValue(port, out var d) ? d.In(port, size) : (uint)((1ul << (size * 8)) - 1);

    public void Out(ushort port, int size, uint value)
    {
        if (devices.TryGetValue(port, out var d))
            d.Out(port, size, value);
    }
}
