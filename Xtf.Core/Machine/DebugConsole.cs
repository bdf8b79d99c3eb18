namespace Xtf.Core.Machine;

/// <summary>
/// The debug console port: each byte written goes straight into the console log. Port 0xE9 is
/// the QEMU/Bochs debugcon convention; port 0x12 is the one upstream XTF writes with rep outsb.
/// Reading the port returns 0xE9, as Bochs and QEMU do to announce the device.
/// </summary>
public sealed class DebugConsole : IPortDevice
{
    public const ushort BochsPort = 0xE9;
    public const ushort XenPlatformPort = 0x12;

    private readonly ConsoleLog log;

    public DebugConsole(ConsoleLog log) => this.log = log;

    public uint In(ushort port, int size) => BochsPort;

    public void Out(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++)
            log.Append((byte)(value >> (8 * i)));
    }
}
