using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu;

/// <summary>The stack (SDM vol. 1, 6.2): SS:(R/E)SP, with the stack-address size from SS.B.</summary>
public sealed partial class X86Cpu
{
    /// <summary>Stack-address size in bytes: 8 in 64-bit mode, else 4 with SS.B set, 2 without.</summary>
    internal int StackAddressSize => Bitness == 64 ? 8 : Segments[SS].DefaultBig ? 4 : 2;

    internal ulong StackPointer
    {
        get => gpr[RSP] & SizeMask(StackAddressSize);
        set => WriteGpr(RSP, StackAddressSize, value);
    }

    /// <summary>Pushes <paramref name="size"/> bytes; RSP changes only once the write succeeded.</summary>
    public void Push(ulong value, int size)
    {
        ulong sp = (StackPointer - (ulong)size) & SizeMask(StackAddressSize);
        WriteLogical(SS, sp, size, value);
        StackPointer = sp;
    }

    /// <summary>Pops <paramref name="size"/> bytes from SS:[RSP/ESP/SP] (stack address size from SS.B or 64-bit mode); RSP changes only once the read succeeded.</summary>
    public ulong Pop(int size)
    {
        ulong sp = StackPointer;
        ulong value = ReadLogical(SS, sp, size);
        StackPointer = sp + (ulong)size;
        return value;
    }

    /// <summary>Reads the stack at <paramref name="depth"/> bytes above the stack pointer without popping.</summary>
    internal ulong PeekStack(int depth, int size) =>
        ReadLogical(SS, (StackPointer + (ulong)depth) & SizeMask(StackAddressSize), size);

    /// <summary>
    /// Checks that <paramref name="bytes"/> bytes below the stack pointer can be written (segment and
    /// paging faults now, if any). The pushes that follow check their own alignment, slot by slot.
    /// </summary>
    internal void CheckStackWritable(int bytes)
    {
        ulong sp = (StackPointer - (ulong)bytes) & SizeMask(StackAddressSize);
        ulong la = SegmentLinear(SS, sp, bytes, AccessKind.Write);
        if ((Cr0Value & Cr0.PG) != 0)
        {
            _ = Translate(la, AccessKind.Write, UserAccess);
            _ = Translate(la + (ulong)bytes - 1, AccessKind.Write, UserAccess);
        }
    }
}
