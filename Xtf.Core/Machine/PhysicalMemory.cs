using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Machine;

/// <summary>
/// Sparse guest physical memory: 4 KiB frames allocated on first write. Reads of an untouched
/// frame see zeros without allocating.
/// </summary>
public sealed class PhysicalMemory : IPhysicalMemory
{
    /// <summary>Frame size in bytes (4 KiB).</summary>
    public const int FrameSize = 4096;
    private static readonly byte[] ZeroFrame = new byte[FrameSize];
    private readonly byte[]?[] frames;

    /// <summary>RAM of <paramref name="bytes"/> bytes from physical address 0; throws <see cref="ArgumentOutOfRangeException"/> unless a positive multiple of 4 KiB.</summary>
    public PhysicalMemory(ulong bytes)
    {
        if (bytes == 0 || bytes % FrameSize != 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), "memory size must be a positive multiple of 4 KiB");
        frames = new byte[bytes / FrameSize][];
    }

    /// <summary>Raised when something other than the CPU writes a frame (builder, hypervisor).</summary>
    public event Action<ulong>? FrameWritten;

    /// <inheritdoc/>
    public ulong FrameCount => (ulong)frames.Length;

    /// <summary>RAM size in bytes.</summary>
    public ulong Size => FrameCount * FrameSize;

    /// <summary>Frames that have been written at least once.</summary>
    public int AllocatedFrames => frames.Count(f => f is not null);

    /// <inheritdoc/>
    public byte[]? GetFrame(ulong frame, bool forWrite)
    {
        if (frame >= (ulong)frames.Length)
            return null;
        var page = frames[frame];
        if (page is not null)
            return page;
        if (!forWrite)
            return ZeroFrame;
        return frames[frame] = new byte[FrameSize];
    }

    /// <summary>True when [<paramref name="address"/>, <paramref name="address"/> + <paramref name="length"/>) lies wholly in RAM.</summary>
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
