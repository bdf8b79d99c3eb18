using Xtf.Core.Cpu.Decoding;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu.Execution.Fast;

/// <summary>
/// Specialised forms of the integer ALU (SDM vol. 2: ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST,
/// INC, DEC) with register, immediate and memory operands. Each records its status flags exactly
/// as the general handler does (<see cref="Arithmetic"/>, <see cref="Logic"/>), lazily.
/// Suffixes name the operands: R register, I immediate, M memory.
/// </summary>
internal static class FastAlu
{
    public static void AddRR(X86Cpu c, ref readonly MicroOp op) => Add(c, in op, c.ReadGpr(op.Src, op.Size), 0);

    public static void AddRI(X86Cpu c, ref readonly MicroOp op) => Add(c, in op, op.Immediate, 0);

    public static void AddRM(X86Cpu c, ref readonly MicroOp op) => Add(c, in op, FastMemory.Read(c, in op), 0);

    public static void AdcRR(X86Cpu c, ref readonly MicroOp op) => Add(c, in op, c.ReadGpr(op.Src, op.Size), CarryIn(c));

    public static void AdcRI(X86Cpu c, ref readonly MicroOp op) => Add(c, in op, op.Immediate, CarryIn(c));

    public static void SubRR(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, c.ReadGpr(op.Src, op.Size), 0, store: true);

    public static void SubRI(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, op.Immediate, 0, store: true);

    public static void SubRM(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, FastMemory.Read(c, in op), 0, store: true);

    public static void SbbRR(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, c.ReadGpr(op.Src, op.Size), CarryIn(c), store: true);

    public static void SbbRI(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, op.Immediate, CarryIn(c), store: true);

    public static void CmpRR(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, c.ReadGpr(op.Src, op.Size), 0, store: false);

    public static void CmpRI(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, op.Immediate, 0, store: false);

    public static void CmpRM(X86Cpu c, ref readonly MicroOp op) => Sub(c, in op, FastMemory.Read(c, in op), 0, store: false);

    /// <summary>CMP m, r: the memory operand is the minuend.</summary>
    public static void CmpMR(X86Cpu c, ref readonly MicroOp op) => CompareMemory(c, in op, c.ReadGpr(op.Src, op.Size));

    public static void CmpMI(X86Cpu c, ref readonly MicroOp op) => CompareMemory(c, in op, op.Immediate);

    public static void AndRR(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) & c.ReadGpr(op.Src, op.Size), store: true);

    public static void AndRI(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) & op.Immediate, store: true);

    public static void OrRR(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) | c.ReadGpr(op.Src, op.Size), store: true);

    public static void OrRI(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) | op.Immediate, store: true);

    public static void XorRR(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) ^ c.ReadGpr(op.Src, op.Size), store: true);

    public static void XorRI(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) ^ op.Immediate, store: true);

    public static void TestRR(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) & c.ReadGpr(op.Src, op.Size), store: false);

    public static void TestRI(X86Cpu c, ref readonly MicroOp op) => Logic(c, in op, c.ReadGpr(op.Dst, op.Size) & op.Immediate, store: false);

    /// <summary>INC r: CF is left as it was (SDM: INC).</summary>
    public static void IncR(X86Cpu c, ref readonly MicroOp op)
    {
        ulong a = c.ReadGpr(op.Dst, op.Size);
        ulong r = a + 1;
        c.WriteGpr(op.Dst, op.Size, r);
        c.SetIncDecFlags(decrement: false, a, r, op.Size);
    }

    /// <summary>DEC r: CF is left as it was (SDM: DEC).</summary>
    public static void DecR(X86Cpu c, ref readonly MicroOp op)
    {
        ulong a = c.ReadGpr(op.Dst, op.Size);
        ulong r = a - 1;
        c.WriteGpr(op.Dst, op.Size, r);
        c.SetIncDecFlags(decrement: true, a, r, op.Size);
    }

    /// <summary>ADC/SBB take CF as it was before the instruction.</summary>
    private static ulong CarryIn(X86Cpu c) => c.Condition(2) ? 1ul : 0;

    private static void Add(X86Cpu c, ref readonly MicroOp op, ulong b, ulong carry)
    {
        int size = op.Size;
        ulong a = c.ReadGpr(op.Dst, size);
        ulong r = a + b + carry;
        c.WriteGpr(op.Dst, size, r);
        c.SetArithmeticFlags(subtract: false, a, b, carry, r, size);
    }

    private static void Sub(X86Cpu c, ref readonly MicroOp op, ulong b, ulong borrow, bool store)
    {
        int size = op.Size;
        ulong a = c.ReadGpr(op.Dst, size);
        ulong r = a - b - borrow;
        if (store)
            c.WriteGpr(op.Dst, size, r);
        c.SetArithmeticFlags(subtract: true, a, b, borrow, r, size);
    }

    private static void CompareMemory(X86Cpu c, ref readonly MicroOp op, ulong b)
    {
        ulong a = FastMemory.Read(c, in op);
        c.SetArithmeticFlags(subtract: true, a, b, 0, a - b, op.Size);
    }

    private static void Logic(X86Cpu c, ref readonly MicroOp op, ulong r, bool store)
    {
        if (store)
            c.WriteGpr(op.Dst, op.Size, r);
        c.SetLogicFlags(r, op.Size);
    }

    /// <summary>
    /// Read-modify-write of a memory destination with a register or immediate source: the address
    /// is checked for writing before the read, as the general handler does.
    /// </summary>
    public static void AddMR(X86Cpu c, ref readonly MicroOp op) => AddSubMemory(c, in op, c.ReadGpr(op.Src, op.Size), subtract: false);

    public static void AddMI(X86Cpu c, ref readonly MicroOp op) => AddSubMemory(c, in op, op.Immediate, subtract: false);

    public static void SubMR(X86Cpu c, ref readonly MicroOp op) => AddSubMemory(c, in op, c.ReadGpr(op.Src, op.Size), subtract: true);

    public static void SubMI(X86Cpu c, ref readonly MicroOp op) => AddSubMemory(c, in op, op.Immediate, subtract: true);

    private static void AddSubMemory(X86Cpu c, ref readonly MicroOp op, ulong b, bool subtract)
    {
        int size = op.Size;
        ulong la = FastMemory.WritableLinear(c, in op);
        bool user = c.UserAccess;
        ulong a = c.ReadLinear(la, size, user);
        ulong r = subtract ? a - b : a + b;
        c.WriteLinear(la, size, r, user);
        c.SetArithmeticFlags(subtract, a, b, 0, r, size);
    }
}

/// <summary>Memory operands of the specialised forms: the effective address from the resolved base, index and displacement.</summary>
internal static class FastMemory
{
    /// <summary>
    /// Offset of the memory operand (SDM vol. 2, 2.1.5): base + index * scale + displacement,
    /// truncated to the address size. The low bits of a sum depend only on the low bits of its
    /// terms, so full registers can be added and the result masked once.
    /// </summary>
    public static ulong EffectiveAddress(X86Cpu c, ref readonly MicroOp op)
    {
        ulong ea = op.Displacement;
        if (op.Base != MicroOp.NoRegister)
            ea += c[op.Base];
        if (op.Index != MicroOp.NoRegister)
            ea += c[op.Index] << op.Scale;
        return ea & op.AddressMask;
    }

    public static ulong Linear(X86Cpu c, ref readonly MicroOp op, AccessKind kind) =>
        c.LinearAddress(op.Segment, EffectiveAddress(c, in op), op.Size, kind);

    public static ulong Read(X86Cpu c, ref readonly MicroOp op) =>
        c.ReadLinear(Linear(c, in op, AccessKind.Read), op.Size, c.UserAccess);

    public static void Write(X86Cpu c, ref readonly MicroOp op, ulong value) =>
        c.WriteLinear(Linear(c, in op, AccessKind.Write), op.Size, value, c.UserAccess);

    /// <summary>The linear address of a read-modify-write destination, its page checked for writing first.</summary>
    public static ulong WritableLinear(X86Cpu c, ref readonly MicroOp op)
    {
        ulong la = Linear(c, in op, AccessKind.Write);
        if ((c.Cr0Value & Cr0.PG) != 0)
            _ = c.Translate(la, AccessKind.Write, c.UserAccess);
        return la;
    }
}
