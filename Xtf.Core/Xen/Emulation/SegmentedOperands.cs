using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// Memory operands of the instructions the emulator owns, read and written as x86_emulate's
/// ops->read/->write do: through the emulator's segmentation and page walk, which
/// <see cref="Memory.EmulatorAccess"/> gives every access made while an instruction is emulated
/// (so these are the processor's logical accesses, carried out the emulator's way).
/// </summary>
internal static class SegmentedOperands
{
    /// <summary>
    /// The segment of a memory operand (SDM vol. 1, 3.7.4): an override prefix, else SS for a base
    /// of (E/R)SP or (E/R)BP, else DS; in 64-bit mode ES, CS, SS and DS overrides are ignored
    /// (SDM vol. 1, 3.3.7.1), as x86_emulate's decode does.
    /// </summary>
    public static int Segment(HvmEmulator e, in Instruction i) => X86Cpu.MemorySegment(in i);

    /// <summary>Reads the memory operand of <paramref name="i"/>.</summary>
    public static ulong Read(HvmEmulator e, in Instruction i, int size) =>
        ReadLogical(e, Segment(e, in i), e.Cpu.EffectiveAddress(i), size);

    /// <summary>Writes the memory operand of <paramref name="i"/>.</summary>
    public static void Write(HvmEmulator e, in Instruction i, int size, ulong value) =>
        WriteLogical(e, Segment(e, in i), e.Cpu.EffectiveAddress(i), size, value);

    /// <summary>ops->read of <paramref name="size"/> bytes at <paramref name="seg"/>:<paramref name="offset"/>.</summary>
    public static ulong ReadLogical(HvmEmulator e, int seg, ulong offset, int size) => e.Cpu.ReadLogical(seg, offset, size);

    /// <summary>ops->write of <paramref name="size"/> bytes at <paramref name="seg"/>:<paramref name="offset"/>.</summary>
    public static void WriteLogical(HvmEmulator e, int seg, ulong offset, int size, ulong value) => e.Cpu.WriteLogical(seg, offset, size, value);
}
