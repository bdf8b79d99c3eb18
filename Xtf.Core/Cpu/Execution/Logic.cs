using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Bitwise logic: AND, OR, XOR, TEST, NOT.</summary>
internal static class Logic
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.And, (X86Cpu c, in Instruction i) => Binary(c, i, static (a, b) => a & b, store: true));
        add(Mnemonic.Or, (X86Cpu c, in Instruction i) => Binary(c, i, static (a, b) => a | b, store: true));
        add(Mnemonic.Xor, (X86Cpu c, in Instruction i) => Binary(c, i, static (a, b) => a ^ b, store: true));
        add(Mnemonic.Test, (X86Cpu c, in Instruction i) => Binary(c, i, static (a, b) => a & b, store: false));
        add(Mnemonic.Not, Not);
    }

    /// <summary>SDM: OF and CF cleared; SF, ZF, PF set by the result; AF undefined (left clear).</summary>
    private static void Binary(X86Cpu cpu, in Instruction i, Func<ulong, ulong, ulong> op, bool store)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong b = cpu.ReadOperand(i, 1, size);
        ulong r;
        if (store)
        {
            var dst = cpu.ResolveDestination(i, 0, size);
            r = op(cpu.Read(dst), b);
            cpu.Write(dst, r);
        }
        else
        {
            r = op(cpu.ReadOperand(i, 0, size), b);
        }

        cpu.SetLogicFlags(r, size);
    }

    /// <summary>NOT: one's complement; no flags affected.</summary>
    private static void Not(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        var dst = cpu.ResolveDestination(i, 0, size);
        cpu.Write(dst, ~cpu.Read(dst));
    }
}
