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
    /// <summary>IN from <paramref name="port"/>, <paramref name="size"/> bytes (1, 2 or 4), zero-extended; an unclaimed port reads as all ones.</summary>
    uint In(ushort port, int size);

    /// <summary>OUT of the low <paramref name="size"/> bytes (1, 2 or 4) of <paramref name="value"/> to <paramref name="port"/>; writes to an unclaimed port are dropped.</summary>
    void Out(ushort port, int size, uint value);
}

/// <summary>Kinds of memory access, for segment and page permission checks.</summary>
public enum AccessKind
{
    /// <summary>Data read (segment must be readable; page needs P, plus U/S at CPL 3 and SMAP at CPL &lt; 3).</summary>
    Read,
    /// <summary>Data write (segment must be a writable data segment; page needs R/W subject to CR0.WP).</summary>
    Write,
    /// <summary>Instruction fetch (CS limit; page must not be XD with EFER.NXE, nor a user page under SMEP at CPL &lt; 3).</summary>
    Execute,
}
