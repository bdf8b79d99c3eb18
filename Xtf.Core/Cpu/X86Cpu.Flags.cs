using Xtf.Core.Cpu.Execution;

namespace Xtf.Core.Cpu;

/// <summary>The operation whose status flags are still to be computed.</summary>
internal enum LazyFlags : byte
{
    None,

    /// <summary>a + b = result.</summary>
    Add,

    /// <summary>a + b + 1 = result (ADC with CF set).</summary>
    AddCarry,

    /// <summary>a - b = result.</summary>
    Sub,

    /// <summary>a - b - 1 = result (SBB with CF set).</summary>
    SubBorrow,

    /// <summary>INC/DEC: as ADD/SUB 1, with CF (kept in the extra bits) as it was before (SDM: INC, DEC).</summary>
    Inc,
    Dec,

    /// <summary>SF, ZF, PF from the result; CF, OF and AF given in the extra bits (logic ops, shifts).</summary>
    Result,
}

/// <summary>
/// EFLAGS with lazily computed status flags (DESIGN.md section 7): arithmetic records its operands
/// and result, and CF, PF, AF, ZF, SF, OF are worked out only when something reads them. The
/// architectural value is always <see cref="Eflags"/>; <c>eflags</c> holds the non-status bits
/// exactly, and the status bits too whenever no operation is pending.
/// </summary>
public sealed partial class X86Cpu
{
    private uint eflags = RFlags.Reserved1;
    private LazyFlags lazyOp;
    private int lazySize;
    private uint lazyExtra;
    private ulong lazyA, lazyB, lazyResult;

    /// <summary>The EFLAGS register (SDM vol. 1, 3.4.3).</summary>
    public uint Eflags
    {
        get
        {
            if (lazyOp != LazyFlags.None)
                MaterializeFlags();
            return eflags;
        }

        set
        {
            eflags = value;
            lazyOp = LazyFlags.None;
        }
    }

    internal bool DirectionFlag => (eflags & RFlags.DF) != 0;

    /// <summary>EFLAGS.AC, which also lifts SMAP for explicit supervisor accesses (SDM vol. 3, 4.6.1).</summary>
    internal bool AlignmentCheckFlag => (eflags & RFlags.AC) != 0;

    /// <summary>Records the flags of a + b + carry (or a - b - borrow) for later; carry is 0 or 1.</summary>
    internal void SetArithmeticFlags(bool subtract, ulong a, ulong b, ulong carry, ulong result, int size)
    {
        lazyOp = subtract
            ? (carry != 0 ? LazyFlags.SubBorrow : LazyFlags.Sub)
            : (carry != 0 ? LazyFlags.AddCarry : LazyFlags.Add);
        lazyA = a;
        lazyB = b;
        lazyResult = result;
        lazySize = size;
    }

    /// <summary>INC/DEC: as ADD/SUB 1, with CF left as it was.</summary>
    internal void SetIncDecFlags(bool decrement, ulong a, ulong result, int size)
    {
        lazyExtra = CarryFlag;
        lazyOp = decrement ? LazyFlags.Dec : LazyFlags.Inc;
        lazyA = a;
        lazyResult = result;
        lazySize = size;
    }

    /// <summary>AND, OR, XOR, TEST: CF = OF = 0, SF/ZF/PF from the result, AF 0 (undefined by the SDM).</summary>
    internal void SetLogicFlags(ulong result, int size) => SetResultFlags(result, size, 0);

    /// <summary>SF, ZF and PF from <paramref name="result"/>; CF, OF and AF exactly <paramref name="fixedFlags"/>.</summary>
    internal void SetResultFlags(ulong result, int size, uint fixedFlags)
    {
        lazyOp = LazyFlags.Result;
        lazyExtra = fixedFlags;
        lazyResult = result;
        lazySize = size;
    }

    /// <summary>CF as it stands (RFlags.CF or 0), without working out the other flags.</summary>
    internal uint CarryFlag => lazyOp switch
    {
        LazyFlags.None => eflags & RFlags.CF,
        LazyFlags.Inc or LazyFlags.Dec or LazyFlags.Result => lazyExtra & RFlags.CF,
        _ => PendingCarry() ? RFlags.CF : 0,
    };

    /// <summary>ZF as it stands: every pending operation sets it from its result.</summary>
    internal bool ZeroFlag => lazyOp == LazyFlags.None
        ? (eflags & RFlags.ZF) != 0
        : (lazyResult & SizeMask(lazySize)) == 0;

    /// <summary>AF as it stands (RFlags.AF or 0), for operations that leave it unchanged.</summary>
    internal uint AuxiliaryFlag => lazyOp switch
    {
        LazyFlags.None => eflags & RFlags.AF,
        LazyFlags.Result => lazyExtra & RFlags.AF,
        LazyFlags.Inc or LazyFlags.Dec => (uint)((lazyA ^ 1 ^ lazyResult) & 0x10),
        _ => (uint)((lazyA ^ lazyB ^ lazyResult) & 0x10),
    };

    /// <summary>
    /// A condition code (SDM vol. 1, table B-1; the low nibble of Jcc/SETcc/CMOVcc). CF, ZF, SF
    /// and OF come straight from a pending operation; PF needs the full flags.
    /// </summary>
    internal bool Condition(int cc)
    {
        if (lazyOp == LazyFlags.None || (cc >> 1) == 5)
            return FlagLogic.Condition(Eflags, cc);
        ulong mask = SizeMask(lazySize);
        ulong sign = FlagLogic.SignBit(lazySize);
        ulong r = lazyResult & mask;
        uint f = 0;
        if (r == 0)
            f |= RFlags.ZF;
        if ((r & sign) != 0)
            f |= RFlags.SF;
        switch (lazyOp)
        {
            case LazyFlags.Result:
                f |= lazyExtra & (RFlags.CF | RFlags.OF);
                break;
            case LazyFlags.Inc or LazyFlags.Dec:
                f |= lazyExtra & RFlags.CF;
                if (lazyOp == LazyFlags.Inc ? r == sign : r == sign - 1)
                    f |= RFlags.OF;
                break;
            default:
                if (PendingCarry())
                    f |= RFlags.CF;
                ulong a = lazyA & mask, b = lazyB & mask;
                bool overflow = lazyOp >= LazyFlags.Sub ? ((a ^ b) & (a ^ r) & sign) != 0 : ((a ^ r) & (b ^ r) & sign) != 0;
                if (overflow)
                    f |= RFlags.OF;
                break;
        }

        return FlagLogic.Condition(f, cc);
    }

    /// <summary>CF of a pending add or subtract: the carry out of (or borrow into) the top bit.</summary>
    private bool PendingCarry()
    {
        ulong mask = SizeMask(lazySize);
        ulong a = lazyA & mask, b = lazyB & mask, r = lazyResult & mask;
        return lazyOp switch
        {
            LazyFlags.Add => r < a,
            LazyFlags.AddCarry => r <= a,
            LazyFlags.Sub => a < b,
            _ => a <= b, // SubBorrow
        };
    }

    private void MaterializeFlags()
    {
        uint status = lazyOp switch
        {
            LazyFlags.Add => FlagLogic.Add(lazyA, lazyB, 0, lazyResult, lazySize),
            LazyFlags.AddCarry => FlagLogic.Add(lazyA, lazyB, 1, lazyResult, lazySize),
            LazyFlags.Sub => FlagLogic.Sub(lazyA, lazyB, 0, lazyResult, lazySize),
            LazyFlags.SubBorrow => FlagLogic.Sub(lazyA, lazyB, 1, lazyResult, lazySize),
            LazyFlags.Inc => (FlagLogic.Add(lazyA, 1, 0, lazyResult, lazySize) & ~RFlags.CF) | lazyExtra,
            LazyFlags.Dec => (FlagLogic.Sub(lazyA, 1, 0, lazyResult, lazySize) & ~RFlags.CF) | lazyExtra,
            _ => FlagLogic.SignZeroParity(lazyResult, lazySize) | lazyExtra,
        };
        eflags = (eflags & ~RFlags.Status) | status;
        lazyOp = LazyFlags.None;
    }
}
