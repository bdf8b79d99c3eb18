using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Machine;

/// <summary>
/// Sparse guest physical memory: 4 KiB frames allocated on first write. Reads of an untouched
/// frame see zeros without allocating. The RAM the machine starts with is frames
/// 0 .. <see cref="FrameCount"/> - 1; the hypervisor may later take a frame out (a hole: no RAM,
/// as an HVM p2m entry that is no longer populated) or put one in, anywhere in the physical
/// address space (<see cref="Remove"/>, <see cref="Populate"/>).
/// </summary>
public sealed class PhysicalMemory : IPhysicalMemory
{
    /// <summary>Frame size in bytes (4 KiB).</summary>
    public const int FrameSize = 4096;
    private static readonly byte[] ZeroFrame = new byte[FrameSize];
    private readonly byte[]?[] frames;
    private bool[]? holes;
    private readonly Dictionary<ulong, byte[]> above = [];

    /// <summary>RAM of <paramref name="bytes"/> bytes from physical address 0; throws <see cref="ArgumentOutOfRangeException"/> unless a positive multiple of 4 KiB.</summary>
    public PhysicalMemory(ulong bytes)
    {
        if (bytes == 0 || bytes % FrameSize != 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), "memory size must be a positive multiple of 4 KiB");
        frames = new byte[bytes / FrameSize][];
    }

    /// <summary>Raised when something other than the CPU writes a frame (builder, hypervisor).</summary>
    public event Action<ulong>? FrameWritten;

    /// <summary>Frames of the RAM the machine started with (0 .. FrameCount - 1, holes included); frames populated above it are not counted.</summary>
    public ulong FrameCount => (ulong)frames.Length;

    /// <summary>The start-of-day RAM size in bytes.</summary>
    public ulong Size => FrameCount * FrameSize;

    /// <summary>Frames that have been written at least once.</summary>
    public int AllocatedFrames => frames.Count(f => f is not null) + above.Count;

    /// <inheritdoc/>
    public byte[]? GetFrame(ulong frame, bool forWrite)
    {
        if (frame >= (ulong)frames.Length)
            return above.Count != 0 && above.TryGetValue(frame, out var high) ? high : null;
        var page = frames[frame];
        if (page is not null)
            return page;
        if (holes is not null && holes[frame])
            return null;
        if (!forWrite)
            return ZeroFrame;
        return frames[frame] = new byte[FrameSize];
    }

    /// <summary>True when <paramref name="frame"/> has RAM behind it (start-of-day RAM not removed, or a populated frame).</summary>
    public bool IsPopulated(ulong frame) =>
        frame < (ulong)frames.Length ? holes is null || !holes[frame] : above.ContainsKey(frame);

    /// <summary>
    /// Takes the RAM out of <paramref name="frame"/>: its contents are gone, reads see all ones and
    /// writes are dropped until it is populated again. False if it had no RAM.
    /// </summary>
    public bool Remove(ulong frame)
    {
        if (!IsPopulated(frame))
            return false;
        if (frame < (ulong)frames.Length)
        {
            holes ??= new bool[frames.Length];
            holes[frame] = true;
            frames[frame] = null;
        }
        else
        {
            above.Remove(frame);
        }

        FrameWritten?.Invoke(frame);
        return true;
    }

    /// <summary>
    /// Puts a fresh, zeroed frame of RAM at <paramref name="frame"/> (which may lie above the
    /// start-of-day RAM); a frame that had RAM loses its old contents.
    /// </summary>
    public void Populate(ulong frame)
    {
        if (frame < (ulong)frames.Length)
        {
            if (holes is not null)
                holes[frame] = false;
            frames[frame] = new byte[FrameSize];
        }
        else
        {
            above[frame] = new byte[FrameSize];
        }

        FrameWritten?.Invoke(frame);
    }

    /// <summary>True when [<paramref name="address"/>, <paramref name="address"/> + <paramref name="length"/>) lies wholly in the start-of-day RAM.</summary>
    public bool Contains(ulong address, int length) =>
        address < Size && (ulong)length <= Size - address;

    /// <summary>Writes bytes at a physical address, bypassing the CPU (the domain builder and hypervisor do this).</summary>
    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            ulong frame = address / FrameSize;
            int offset = (int)(address % FrameSize);
            int n = Math.Min(data.Length, FrameSize - offset);
            var page = GetFrame(frame, forWrite: true) ?? throw new ArgumentOutOfRangeException(nameof(address));
            data[..n].CopyTo(page.AsSpan(offset));
            FrameWritten?.Invoke(frame);
            data = data[n..];
            address += (ulong)n;
        }
    }

    /// <summary>Reads bytes at a physical address, bypassing the CPU.</summary>
    public void Read(ulong address, Span<byte> data)
    {
        while (!data.IsEmpty)
        {
            ulong frame = address / FrameSize;
            int offset = (int)(address % FrameSize);
            int n = Math.Min(data.Length, FrameSize - offset);
            var page = GetFrame(frame, forWrite: false);
            if (page is null)
                data[..n].Fill(0xFF);
            else
                page.AsSpan(offset, n).CopyTo(data);
            data = data[n..];
            address += (ulong)n;
        }
    }
}
