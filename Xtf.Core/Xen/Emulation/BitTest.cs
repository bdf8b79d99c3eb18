using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// BT, BTS, BTR and BTC with a memory bit base and a register bit offset, in the emulator. The
/// offset is a signed integer of the operand size that selects a bit anywhere relative to the
/// operand (SDM vol. 2, BT, "bit base" and table 3-2): the operand-size unit at
/// EA + size * (offset DIV width), DIV rounding towards negative infinity, holds bit
/// (offset MOD width). x86_emulate folds the offset into the address the same way; before
/// XSA-195 it masked the byte displacement with a 32-bit mask, so a 64-bit offset whose
/// displacement does not fit in 32 bits reached the wrong address (<see cref="Quirk.Xsa195"/>).
/// Register bit bases and immediate offsets stay within the operand and run with the processor's
/// semantics.
/// </summary>
internal static class BitTest
{
    private enum Modify
    {
        None,
        Set,
        Reset,
        Complement,
    }

    public static void Install(Action<Mnemonic, EmulationHandler> own)
    {
        own(Mnemonic.Bt, (HvmEmulator e, in Instruction i) => Execute(e, in i, Modify.None));
        own(Mnemonic.Bts, (HvmEmulator e, in Instruction i) => Execute(e, in i, Modify.Set));
        own(Mnemonic.Btr, (HvmEmulator e, in Instruction i) => Execute(e, in i, Modify.Reset));
        own(Mnemonic.Btc, (HvmEmulator e, in Instruction i) => Execute(e, in i, Modify.Complement));
    }

    private static void Execute(HvmEmulator e, in Instruction i, Modify modify)
    {
        if (i.Op0Kind != OpKind.Memory || i.Op1Kind != OpKind.Register)
        {
            e.Cpu.ExecuteInstruction(in i);
            return;
        }

        var cpu = e.Cpu;
        int size = i.MemorySize.GetSize();
        int width = size * 8;
        long offset = (long)(cpu.ReadRegister(i.Op1Register) << (64 - width)) >> (64 - width);
        long displacement = e.Options.Has(Quirk.Xsa195)
            ? TruncatedDisplacement(offset, size)
            : (offset >> System.Numerics.BitOperations.Log2((uint)width)) * size;
        int bit = (int)(offset & (width - 1));

        // The access is checked as the processor checks it: segment and limit for the whole unit,
        // a write permission check before the read for BTS/BTR/BTC, then the read.
        ulong ea = (cpu.EffectiveAddress(i) + (ulong)displacement) & X86Cpu.SizeMask(cpu.AddressSize(i));
        var kind = modify == Modify.None ? AccessKind.Read : AccessKind.Write;
        ulong linear = cpu.LinearAddress(X86Cpu.MemorySegment(i), ea, size, kind);
        bool user = cpu.Cpl == 3;
        if (modify != Modify.None && (cpu.Cr0Value & Cr0.PG) != 0)
            _ = cpu.Translate(linear, AccessKind.Write, user);
        ulong value = cpu.ReadLinear(linear, size, user);

        ulong mask = 1ul << bit;
        bool cf = (value & mask) != 0;
        if (modify != Modify.None)
        {
            ulong result = modify switch
            {
                Modify.Set => value | mask,
                Modify.Reset => value & ~mask,
                _ => value ^ mask,
            };
            cpu.WriteLinear(linear, size, result, user);
        }

        // SDM: CF is the selected bit; OF, SF, AF and PF are undefined and, as the processor
        // here leaves them, unchanged.
        FlagLogic.Set(cpu, cf ? RFlags.CF : 0, RFlags.CF);
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>
    /// XSA-195: x86_emulate's byte displacement before the fix. For a negative offset it moved
    /// the address down by op_bytes + (((-offset - 1) &gt;&gt; 3) &amp; ~(op_bytes - 1)), for a
    /// non-negative one up by (offset &gt;&gt; 3) &amp; ~(op_bytes - 1); op_bytes was an unsigned
    /// int, so the mask was 32 bits wide and dropped bits 32-63 of the displacement. 16- and
    /// 32-bit offsets (sign-extended first) never reach those bits. The vulnerable hypervisor went
    /// on to test the bit with the offset left out of range, against its own copy of the operand:
    /// that stray access inside Xen is not modelled; the guest sees the read at the wrong address.
    /// </summary>
    private static long TruncatedDisplacement(long offset, int size)
    {
        ulong mask = (uint)~(size - 1);
        if (offset < 0)
            return -(long)((ulong)size + (((ulong)(-offset - 1) >> 3) & mask));
        return (long)(((ulong)offset >> 3) & mask);
    }
}
