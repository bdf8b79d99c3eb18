namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// Exact status-flag results of arithmetic and logic (SDM vol. 1, appendix A; vol. 2 per instruction).
/// </summary>
internal static class FlagLogic
{
    public static ulong SignBit(int size) => 1ul << ((size * 8) - 1);

    /// <summary>PF: set if the low byte of the result has an even number of 1 bits.</summary>
    public static uint Parity(ulong result) =>
        (System.Numerics.BitOperations.PopCount((uint)(byte)result) & 1) == 0 ? RFlags.PF : 0;

    /// <summary>SF, ZF, PF of a result of <paramref name="size"/> bytes.</summary>
    public static uint SignZeroParity(ulong result, int size)
    {
        result &= X86Cpu.SizeMask(size);
        uint f = Parity(result);
        if (result == 0)
            f |= RFlags.ZF;
        if ((result & SignBit(size)) != 0)
            f |= RFlags.SF;
        return f;
    }

    /// <summary>Flags of a + b + carry.</summary>
    public static uint Add(ulong a, ulong b, ulong carry, ulong result, int size)
    {
        ulong mask = X86Cpu.SizeMask(size);
        a &= mask;
        b &= mask;
        result &= mask;
        uint f = SignZeroParity(result, size);
        bool cf = size == 8
            ? result < a || (carry != 0 && result == a)
            : a + b + carry > mask;
        if (cf)
            f |= RFlags.CF;
        if (((a ^ result) & (b ^ result) & SignBit(size)) != 0)
            f |= RFlags.OF;
        if (((a ^ b ^ result) & 0x10) != 0)
            f |= RFlags.AF;
        return f;
    }

    /// <summary>Flags of a - b - borrow.</summary>
    public static uint Sub(ulong a, ulong b, ulong borrow, ulong result, int size)
    {
        ulong mask = X86Cpu.SizeMask(size);
        a &= mask;
        b &= mask;
        result &= mask;
        uint f = SignZeroParity(result, size);
        bool cf = a < b || (borrow != 0 && a == b);
        if (cf)
            f |= RFlags.CF;
        if (((a ^ b) & (a ^ result) & SignBit(size)) != 0)
            f |= RFlags.OF;
        if (((a ^ b ^ result) & 0x10) != 0)
            f |= RFlags.AF;
        return f;
    }

    /// <summary>Logic results: CF and OF cleared, SF/ZF/PF from the result, AF cleared (undefined by the SDM).</summary>
    public static uint Logic(ulong result, int size) => SignZeroParity(result, size);

    /// <summary>Replaces the status flags selected by <paramref name="mask"/>.</summary>
    public static void Set(X86Cpu cpu, uint flags, uint mask = RFlags.Status) =>
        cpu.Eflags = (cpu.Eflags & ~mask) | (flags & mask);

    /// <summary>Condition codes (SDM vol. 1, table B-1) by the low nibble of Jcc/SETcc/CMOVcc.</summary>
    public static bool Condition(uint eflags, int cc)
    {
        bool cf = (eflags & RFlags.CF) != 0, zf = (eflags & RFlags.ZF) != 0;
        bool sf = (eflags & RFlags.SF) != 0, of = (eflags & RFlags.OF) != 0;
        bool pf = (eflags & RFlags.PF) != 0;
        bool r = (cc >> 1) switch
        {
            0 => of,
            1 => cf,
            2 => zf,
            3 => cf || zf,
            4 => sf,
            5 => pf,
            6 => sf != of,
            _ => zf || sf != of,
        };
        return (cc & 1) == 0 ? r : !r;
    }
}
