using Xtf.Core.Machine;

namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// An I/O port with nothing behind it: reads float to all ones, writes vanish. The test rig had no
/// devices on its I/O bus (upstream README: every IN returns FFh/FFFFh).
/// </summary>
internal sealed class FloatingBus : IPortDevice
{
    public uint In(ushort port, int size) => (uint)((1ul << (size * 8)) - 1);

    public void Out(ushort port, int size, uint value)
    {
    }
}
