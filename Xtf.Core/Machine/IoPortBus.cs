using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Machine;

/// <summary>A device on the I/O port bus.</summary>
public interface IPortDevice
{
    /// <summary>IN of <paramref name="size"/> bytes (1, 2 or 4) from <paramref name="port"/>, one of the ports the device was attached at.</summary>
    uint In(ushort port, int size);

    /// <summary>OUT of the low <paramref name="size"/> bytes (1, 2 or 4) of <paramref name="value"/> to <paramref name="port"/>.</summary>
    void Out(ushort port, int size, uint value);
}

/// <summary>
/// The I/O port address space. Ports nobody claims read as all ones and ignore writes, as an
/// unterminated ISA bus does.
/// </summary>
public sealed class IoPortBus : IIoPorts
{
    private readonly Dictionary<ushort, IPortDevice> devices = [];

    /// <summary>Routes each of <paramref name="ports"/> to <paramref name="device"/>, replacing any earlier claim. Only accesses starting at a claimed port reach the device; no decoding of wider accesses across ports.</summary>
    public void Attach(IPortDevice device, params ushort[] ports)
    {
        foreach (var p in ports)
            devices[p] = device;
    }

    /// <inheritdoc/>
    public uint In(ushort port, int size) =>
        devices.TryGetValue(port, out var d) ? d.In(port, size) : (uint)((1ul << (size * 8)) - 1);

    /// <inheritdoc/>
    public void Out(ushort port, int size, uint value)
    {
        if (devices.TryGetValue(port, out var d))
            d.Out(port, size, value);
    }
}
