namespace Xtf.Core.Cpu.Memory;

/// <summary>
/// Guest physical memory as the CPU sees it: 4 KiB frames. Implemented by the machine.
/// </summary>
public interface IPhysicalMemory
{
    /// <summary>Number of frames of RAM; addresses beyond read as all ones and ignore writes.</summary>
    ulong FrameCount { get; }

    /// <summary>
    /// The backing array of a frame, or null where there is no RAM. With <paramref name="forWrite"/>
    /// false an untouched frame may be returned as a shared all-zero page that must not be written.
    /// </summary>
    byte[]? GetFrame(ulong frame, bool forWrite);
}

/// <summary>The I/O port address space (SDM vol. 1, 18.3).</summary>
public interface IIoPorts
{
    uint In(ushort port, int size);

    void Out(ushort port, int size, uint value);
}

/// <summary>Kinds of memory access, for segment and page permission checks.</summary>
public enum AccessKind
{
    Read,
    Write,
    Execute,
}
