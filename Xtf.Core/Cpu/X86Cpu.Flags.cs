using Xtf.Core.Cpu.Execution;

namespace Xtf.Core.Cpu;

/// <summary>The arithmetic operation whose status flags are still to be computed.</summary>
internal enum LazyFlags : byte
{
    None,
    Add,
    Sub,
    Logic,

    /// <summary>INC/DEC: like ADD/SUB 1 but CF is the one before the instruction (SDM: INC, DEC).</summary>
    IncDec,
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
    private bool lazySubtract;
    private int lazySize;
    private ulong lazyA, lazyB, lazyCarry, lazyResult;

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

    /// <summary>Records the flags of a + b + carry (or a - b - borrow) for later.</summary>
    internal void SetArithmeticFlags(bool subtract, ulong a, ulong b, ulong carry, ulong result, int size)
    {
        lazyOp = subtract ? LazyFlags.Sub : LazyFlags.Add;
        lazySubtract = subtract;
        lazyA = a;
        lazyB = b;
        lazyCarry = carry;
        lazyResult = result;
        lazySize = size;
    }

    /// <summary>INC/DEC: as ADD/SUB 1, with CF left as it was.</summary>
    internal void SetIncDecFlags(bool decrement, ulong a, ulong result, int size)
    {
        if (lazyOp != LazyFlags.None)
            MaterializeFlags();
        lazyOp = LazyFlags.IncDec;
        lazySubtract = decrement;
        lazyA = a;
        lazyB = 1;
        lazyCarry = 0;
        lazyResult = result;
        lazySize = size;
    }

    /// <summary>AND, OR, XOR, TEST: CF = OF = 0, SF/ZF/PF from the result.</summary>
    internal void SetLogicFlags(ulong result, int size)
    {
        lazyOp = LazyFlags.Logic;
        lazyResult = result;
        lazySize = size;
    }

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
            case LazyFlags.Add:
            case LazyFlags.Sub:
            case LazyFlags.IncDec:
                {
                    ulong a = lazyA & mask, b = lazyB & mask;
                    bool overflow = lazySubtract ? ((a ^ b) & (a ^ r) & sign) != 0 : ((a ^ r) & (b ^ r) & sign) != 0;
                    if (overflow)
                        f |= RFlags.OF;
                    if (lazyOp == LazyFlags.IncDec)
                        f |= eflags & RFlags.CF;
                    else if (lazySubtract ? a < b || (lazyCarry != 0 && a == b) : Carry(a, b, r, mask))
                        f |= RFlags.CF;
                    break;
                }
        }

        return FlagLogic.Condition(f, cc);
    }

    private bool Carry(ulong a, ulong b, ulong r, ulong mask) =>
        lazySize == 8 ? r < a || (lazyCarry != 0 && r == a) : a + b + lazyCarry > mask;

    private void MaterializeFlags()
    {
        uint status = lazyOp switch
        {
            LazyFlags.Add => FlagLogic.Add(lazyA, lazyB, lazyCarry, lazyResult, lazySize),
            LazyFlags.Sub => FlagLogic.Sub(lazyA, lazyB, lazyCarry, lazyResult, lazySize),
            LazyFlags.IncDec => (lazySubtract
                    ? FlagLogic.Sub(lazyA, 1, 0, lazyResult, lazySize)
                    : FlagLogic.Add(lazyA, 1, 0, lazyResult, lazySize)) & ~RFlags.CF | (eflags & RFlags.CF),
            _ => FlagLogic.Logic(lazyResult, lazySize),
        };
        eflags = (eflags & ~RFlags.Status) | status;
        lazyOp = LazyFlags.None;
    }
}
