using Iced.Intel;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// Bit test and scan: BT, BTS, BTR, BTC, BSF, BSR (SDM vol. 2). Flags the SDM calls undefined
/// (OF, SF, AF, PF after BTx; CF, OF, SF, AF, PF after BSF/BSR) are left unchanged.
/// </summary>
internal static class BitOperations
{
    private enum Modify
    {
        None,
        Set,
        Reset,
        Complement,
    }

    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Bt, (X86Cpu c, in Instruction i) => BitTest(c, i, Modify.None));
        add(Mnemonic.Bts, (X86Cpu c, in Instruction i) => BitTest(c, i, Modify.Set));
        add(Mnemonic.Btr, (X86Cpu c, in Instruction i) => BitTest(c, i, Modify.Reset));
        add(Mnemonic.Btc, (X86Cpu c, in Instruction i) => BitTest(c, i, Modify.Complement));
        add(Mnemonic.Bsf, (X86Cpu c, in Instruction i) => BitScan(c, i, forward: true));
        add(Mnemonic.Bsr, (X86Cpu c, in Instruction i) => BitScan(c, i, forward: false));
    }

    /// <summary>
    /// BT/BTS/BTR/BTC bit base, bit offset: CF = the selected bit, which BTS/BTR/BTC then set,
    /// clear or complement. An immediate offset and any offset into a register bit base is taken
    /// modulo the operand size. A register offset into a memory bit base is a signed integer that
    /// may reach outside the operand: the operand-size unit at EA + size * (offset DIV width)
    /// (floor division) holds bit (offset MOD width) (SDM: BT, "bit base" and table 3-2).
    /// </summary>
    private static void BitTest(X86Cpu cpu, in Instruction i, Modify modify)
    {
        int size = X86Cpu.OperandSize(i, 0);
        int width = size * 8;
        ulong offset = cpu.ReadOperand(i, 1, size);
        bool registerOffset = i.GetOpKind(1) == OpKind.Register;

        ulong bit;
        ulong value;
        X86Cpu.Destination dst = default;
        ulong linear = 0;
        if (i.GetOpKind(0) == OpKind.Memory && registerOffset)
        {
            long signedOffset = (long)(offset << (64 - width)) >> (64 - width);
            long unit = signedOffset >> (width == 64 ? 6 : width == 32 ? 5 : 4);
            bit = (ulong)signedOffset & (ulong)(width - 1);
            int addrSize = cpu.AddressSize(i);
            ulong ea = (cpu.EffectiveAddress(i) + (ulong)(unit * size)) & X86Cpu.SizeMask(addrSize);
            int seg = X86Cpu.MemorySegment(i);
            var kind = modify == Modify.None ? AccessKind.Read : AccessKind.Write;
            linear = cpu.LinearAddress(seg, ea, size, kind);
            if (modify != Modify.None)
                cpu.CheckWritable(linear, size);
            value = cpu.ReadLinear(linear, size, cpu.Cpl == 3);
        }
        else
        {
            bit = offset & (ulong)(width - 1);
            if (modify == Modify.None)
            {
                value = cpu.ReadOperand(i, 0, size);
            }
            else
            {
                dst = cpu.ResolveDestination(i, 0, size);
                value = cpu.Read(dst);
            }
        }

        ulong mask = 1ul << (int)bit;
        bool cf = (value & mask) != 0;
        if (modify != Modify.None)
        {
            ulong result = modify switch
            {
                Modify.Set => value | mask,
                Modify.Reset => value & ~mask,
                _ => value ^ mask,
            };
            if (i.GetOpKind(0) == OpKind.Memory && registerOffset)
                cpu.WriteLinear(linear, size, result, cpu.Cpl == 3);
            else
                cpu.Write(dst, result);
        }

        FlagLogic.Set(cpu, cf ? RFlags.CF : 0, RFlags.CF);
    }

    /// <summary>
    /// BSF/BSR: index of the lowest (highest) set bit of the source into the destination, ZF
    /// cleared. A zero source sets ZF and leaves the destination unchanged (the SDM says
    /// "undefined"; Intel and AMD processors keep the old value, AMD documents it).
    /// </summary>
    private static void BitScan(X86Cpu cpu, in Instruction i, bool forward)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong src = cpu.ReadOperand(i, 1, size);
        if (src == 0)
        {
            FlagLogic.Set(cpu, RFlags.ZF, RFlags.ZF);
            return;
        }

        ulong index = forward
            ? (ulong)System.Numerics.BitOperations.TrailingZeroCount(src)
            : (ulong)(63 - System.Numerics.BitOperations.LeadingZeroCount(src));
        cpu.WriteOperand(i, 0, size, index);
        FlagLogic.Set(cpu, 0, RFlags.ZF);
    }
}
