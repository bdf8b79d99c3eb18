using Iced.Intel;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>
/// Operands of legacy SSE instructions: the enabling checks, XMM lanes, and memory operands with
/// the alignment rules of the exception classes (SDM vol. 2, 2.4, tables 2-18 to 2-21): types 1,
/// 2 and 4 (MOVAPS, packed arithmetic, packed logic) need a 16-byte aligned m128 in legacy SSE,
/// #GP(0) otherwise whatever the segment, except the moves that explicitly allow unaligned
/// access (MOVUPS, MOVUPD, MOVDQU); types 3 and 5 (scalar arithmetic, MOVSS, MOVD) take any.
/// </summary>
internal static class SseOperands
{
    /// <summary>
    /// #UD with LOCK (vol. 2, 2.4 tables: "If preceded by a LOCK prefix"), then the CR0.EM,
    /// CR4.OSFXSR and CR0.TS rules (<see cref="X86Cpu.CheckSseAvailable"/>).
    /// </summary>
    public static void CheckEnabled(X86Cpu cpu, in Instruction i)
    {
        if (i.HasLockPrefix)
            throw CpuFault.UD();
        cpu.CheckSseAvailable();
    }

    public static bool IsXmm(Register r) => r is >= Register.XMM0 and <= Register.XMM15;

    public static int Index(Register r) => r - Register.XMM0;

    /// <summary>Lane <paramref name="n"/> of <paramref name="width"/> bits (32 or 64).</summary>
    public static ulong Lane(in X86Cpu.XmmRegister x, int n, int width)
    {
        if (width == 64)
            return n == 0 ? x.Low : x.High;
        ulong half = n < 2 ? x.Low : x.High;
        return (n & 1) == 0 ? half & 0xFFFFFFFF : half >> 32;
    }

    public static void SetLane(ref X86Cpu.XmmRegister x, int n, int width, ulong value)
    {
        if (width == 64)
        {
            if (n == 0)
                x.Low = value;
            else
                x.High = value;
            return;
        }

        ref ulong half = ref n < 2 ? ref x.Low : ref x.High;
        int shift = (n & 1) * 32;
        half = (half & ~(0xFFFFFFFFul << shift)) | ((value & 0xFFFFFFFF) << shift);
    }

    /// <summary>Operand <paramref name="n"/> as 128 bits: an XMM register, or m128 (16-byte aligned if <paramref name="aligned"/>).</summary>
    public static X86Cpu.XmmRegister Read128(X86Cpu cpu, in Instruction i, int n, bool aligned)
    {
        if (i.GetOpKind(n) == OpKind.Register)
            return cpu.Xmm[Index(i.GetOpRegister(n))];
        ulong la = MemoryOperand(cpu, i, 16, AccessKind.Read, aligned);
        return new X86Cpu.XmmRegister
        {
            Low = cpu.ReadLinear(la, 8, cpu.UserAccess),
            High = cpu.ReadLinear(la + 8, 8, cpu.UserAccess),
        };
    }

    /// <summary>Operand <paramref name="n"/> as a scalar of <paramref name="bytes"/>: the low lane of an XMM register, or memory of that size (any alignment).</summary>
    public static ulong ReadScalar(X86Cpu cpu, in Instruction i, int n, int bytes)
    {
        if (i.GetOpKind(n) == OpKind.Register)
            return Lane(cpu.Xmm[Index(i.GetOpRegister(n))], 0, 8 * bytes);
        return cpu.ReadLinear(cpu.MemoryLinear(i, bytes, AccessKind.Read), bytes, cpu.UserAccess);
    }

    /// <summary>Stores 128 bits to the memory operand, every page checked for writing before any byte changes.</summary>
    public static void Write128(X86Cpu cpu, in Instruction i, bool aligned, X86Cpu.XmmRegister value)
    {
        ulong la = MemoryOperand(cpu, i, 16, AccessKind.Write, aligned);
        ProbeWritable(cpu, la, 16);
        cpu.WriteLinear(la, 8, value.Low, cpu.UserAccess);
        cpu.WriteLinear(la + 8, 8, value.High, cpu.UserAccess);
    }

    /// <summary>Linear address of a 16-byte (or larger) SSE memory operand, alignment first when the form requires it.</summary>
    public static ulong MemoryOperand(X86Cpu cpu, in Instruction i, int size, AccessKind kind, bool aligned)
    {
        int seg = X86Cpu.MemorySegment(i);
        ulong ea = cpu.EffectiveAddress(i);
        if (aligned && (cpu.UncheckedLinear(seg, ea) & 15) != 0)
            throw CpuFault.GP(0);
        return cpu.LinearAddress(seg, ea, size, kind);
    }

    /// <summary>Translates every page of a store for writing before any byte is written (nothing commits before a #PF).</summary>
    public static void ProbeWritable(X86Cpu cpu, ulong la, int size)
    {
        for (ulong page = la & ~0xFFFul; page <= ((la + (ulong)size - 1) & ~0xFFFul); page += 0x1000)
            _ = cpu.Translate(Math.Max(page, la), AccessKind.Write, cpu.UserAccess);
    }
}
