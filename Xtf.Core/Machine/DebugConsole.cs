namespace Xtf.Core.Machine;

/// <summary>
/// The debug console port: each byte written goes straight into the console log. Port 0xE9 is
/// the QEMU/Bochs debugcon convention; port 0x12 is the one upstream XTF writes with rep outsb.
/// Reading the port returns 0xE9, as Bochs and QEMU do to announce the device.
/// </summary>
public sealed class DebugConsole : IPortDevice
{
    /// <summary>Port 0xE9, the Bochs/QEMU debugcon port.</summary>
    public const ushort BochsPort = 0xE9;
    /// <summary>Port 0x12, upstream XTF's HVM "qemu" console port (arch/x86/setup.c, qemu_console_write: rep outsb with DX = 0x12).</summary>
    public const ushort XenPlatformPort = 0x12;

    private readonly ConsoleLog log;

    /// <summary>A console device that appends every byte written to <paramref name="log"/>.</summary>
    public DebugConsole(ConsoleLog log) => this.log = log;

    /// <inheritdoc/>
    /// <remarks>Always 0xE9, whatever the port and size (the debugcon presence check).</remarks>
    public uint In(ushort port, int size) => BochsPort;

    /// <inheritdoc/>
    /// <remarks>Appends the low <paramref name="size"/> bytes of <paramref name="value"/> to the log, lowest byte first.</remarks>
    public void Out(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++)
            log.Append((byte)(value >> (8 * i)));
    }
}
