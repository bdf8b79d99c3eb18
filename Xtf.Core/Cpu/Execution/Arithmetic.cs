using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Integer add/subtract family: ADD, ADC, SUB, SBB, CMP, INC, DEC, NEG, XADD, CMPXCHG, BOUND.</summary>
internal static class Arithmetic
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Add, (X86Cpu c, in Instruction i) => AddSub(c, i, subtract: false, withCarry: false, store: true));
        add(Mnemonic.Adc, (X86Cpu c, in Instruction i) => AddSub(c, i, subtract: false, withCarry: true, store: true));
        add(Mnemonic.Sub, (X86Cpu c, in Instruction i) => AddSub(c, i, subtract: true, withCarry: false, store: true));
        add(Mnemonic.Sbb, (X86Cpu c, in Instruction i) => AddSub(c, i, subtract: true, withCarry: true, store: true));
        add(Mnemonic.Cmp, (X86Cpu c, in Instruction i) => AddSub(c, i, subtract: true, withCarry: false, store: false));
        add(Mnemonic.Inc, (X86Cpu c, in Instruction i) => IncDec(c, i, 1));
        add(Mnemonic.Dec, (X86Cpu c, in Instruction i) => IncDec(c, i, ulong.MaxValue));
        add(Mnemonic.Neg, Neg);
        add(Mnemonic.Xadd, Xadd);
        add(Mnemonic.Cmpxchg, Cmpxchg);
        add(Mnemonic.Cmpxchg8b, Cmpxchg8b);
        add(Mnemonic.Cmpxchg16b, Cmpxchg16b);
        add(Mnemonic.Bound, Bound);
    }

    /// <summary>
    /// BOUND r, m16&amp;16 / m32&amp;32 (SDM: BOUND): #BR when the signed index is below the first
    /// bound or above the second; a register second operand is #UD, as is BOUND in 64-bit mode.
    /// </summary>
    private static void Bound(X86Cpu cpu, in Instruction i)
    {
        if (i.Op1Kind != OpKind.Memory || cpu.Bitness == 64)
            throw CpuFault.UD();
        int size = X86Cpu.OperandSize(i, 0);
        int bits = size * 8;
        ulong pair = cpu.ReadOperand(i, 1, 2 * size);
        long lower = (long)(pair << (64 - bits)) >> (64 - bits);
        long upper = (long)(pair << (64 - (2 * bits))) >> (64 - bits);
        long index = (long)(cpu.ReadOperand(i, 0, size) << (64 - bits)) >> (64 - bits);
        if (index < lower || index > upper)
            throw new CpuFault(X86Vector.BR);
    }

    private static void AddSub(X86Cpu cpu, in Instruction i, bool subtract, bool withCarry, bool store)
    {
        int size = X86Cpu.OperandSize(i, 0);
        ulong b = cpu.ReadOperand(i, 1, size);
        ulong carry = withCarry && cpu.Condition(2) ? 1ul : 0;
        if (store)
        {
            var dst = cpu.ResolveDestination(i, 0, size);
            ulong a = cpu.Read(dst);
            ulong r = subtract ? a - b - carry : a + b + carry;
            cpu.Write(dst, r);
            cpu.SetArithmeticFlags(subtract, a, b, carry, r, size);
        }
        else
        {
            ulong a = cpu.ReadOperand(i, 0, size);
            cpu.SetArithmeticFlags(subtract: true, a, b, 0, a - b, size);
        }
    }

    /// <summary>INC/DEC: like ADD/SUB 1 but CF is preserved (SDM vol. 2, INC).</summary>
    private static void IncDec(X86Cpu cpu, in Instruction i, ulong delta)
    {
        int size = X86Cpu.OperandSize(i, 0);
        var dst = cpu.ResolveDestination(i, 0, size);
        ulong a = cpu.Read(dst);
        ulong r = a + delta;
        cpu.Write(dst, r);
        cpu.SetIncDecFlags(decrement: delta != 1, a, r, size);
    }

    /// <summary>NEG: 0 - dest; CF is set unless the operand was 0.</summary>
    private static void Neg(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        var dst = cpu.ResolveDestination(i, 0, size);
        ulong a = cpu.Read(dst);
        ulong r = 0 - a;
        cpu.Write(dst, r);
        FlagLogic.Set(cpu, FlagLogic.Sub(0, a, 0, r, size));
    }

    /// <summary>XADD: temp = src + dest; src = dest; dest = temp.</summary>
    private static void Xadd(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        var dst = cpu.ResolveDestination(i, 0, size);
        ulong a = cpu.Read(dst);
        ulong b = cpu.ReadOperand(i, 1, size);
        ulong r = a + b;
        cpu.WriteOperand(i, 1, size, a);
        cpu.Write(dst, r);
        FlagLogic.Set(cpu, FlagLogic.Add(a, b, 0, r, size));
    }

    /// <summary>CMPXCHG: compare accumulator with dest; equal stores src, else loads dest into the accumulator.</summary>
    /// <summary>
    /// CMPXCHG8B m64 (SDM: CMPXCHG8B): compare EDX:EAX with m64; equal stores ECX:EBX and sets ZF,
    /// otherwise m64 is loaded into EDX:EAX (and written back unchanged) and ZF cleared. No other
    /// flag changes; a register operand is #UD. CMPXCHG16B (REX.W) is #UD: CPUID has no CX16.
    /// </summary>
    private static void Cmpxchg8b(X86Cpu cpu, in Instruction i)
    {
        if (i.Op0Kind != OpKind.Memory || i.Code != Code.Cmpxchg8b_m64)
            throw CpuFault.UD();
        var dst = cpu.ResolveDestination(i, 0, 8);
        ulong m = cpu.Read(dst);
        ulong expected = ((ulong)cpu.Edx << 32) | cpu.Eax;
        bool equal = m == expected;
        cpu.Write(dst, equal ? ((ulong)cpu.Ecx << 32) | cpu.Ebx : m);
        if (!equal)
        {
            cpu.WriteGpr(X86Cpu.RAX, 4, (uint)m);
            cpu.WriteGpr(X86Cpu.RDX, 4, m >> 32);
        }

        FlagLogic.Set(cpu, equal ? RFlags.ZF : 0, RFlags.ZF);
    }

    /// <summary>
    /// CMPXCHG16B m128 (SDM: CMPXCHG8B/CMPXCHG16B; CPUID.1:ECX.CX16): compares RDX:RAX with m128;
    /// equal, ZF = 1 and m128 = RCX:RBX; else ZF = 0 and RDX:RAX = m128, the destination written
    /// back unchanged. An operand not 16-byte aligned is #GP(0). The whole operand is checked for
    /// writing before it is read (one page: it is aligned).
    /// </summary>
    private static void Cmpxchg16b(X86Cpu cpu, in Instruction i)
    {
        if (i.Op0Kind != OpKind.Memory || i.Code != Code.Cmpxchg16b_m128)
            throw CpuFault.UD();
        ulong ea = cpu.EffectiveAddress(i);
        if ((ea & 0xF) != 0)
            throw CpuFault.GP(0);
        var dst = cpu.ResolveDestination(i, 0, 16);
        ulong low = cpu.ReadLinear(dst.Linear, 8, cpu.UserAccess);
        ulong high = cpu.ReadLinear(dst.Linear + 8, 8, cpu.UserAccess);
        bool equal = low == cpu[X86Cpu.RAX] && high == cpu[X86Cpu.RDX];
        cpu.WriteLinear(dst.Linear, 8, equal ? cpu[X86Cpu.RBX] : low, cpu.UserAccess);
        cpu.WriteLinear(dst.Linear + 8, 8, equal ? cpu[X86Cpu.RCX] : high, cpu.UserAccess);
        if (!equal)
        {
            cpu[X86Cpu.RAX] = low;
            cpu[X86Cpu.RDX] = high;
        }

        FlagLogic.Set(cpu, equal ? RFlags.ZF : 0, RFlags.ZF);
    }

    private static void Cmpxchg(X86Cpu cpu, in Instruction i)
    {
        int size = X86Cpu.OperandSize(i, 0);
        var dst = cpu.ResolveDestination(i, 0, size);
        ulong a = cpu.ReadGpr(X86Cpu.RAX, size);
        ulong d = cpu.Read(dst);
        ulong src = cpu.ReadOperand(i, 1, size);
        FlagLogic.Set(cpu, FlagLogic.Sub(a, d, 0, a - d, size));
        if (a == d)
        {
            cpu.Write(dst, src);
        }
        else
        {
            // A memory destination is written back unchanged (the processor always writes it,
            // SDM: CMPXCHG). A register destination is not written at all: silicon leaves a
            // 32-bit one's bits 63:32 as they were (the native oracle, conformance --native).
            if (dst.IsMemory)
                cpu.Write(dst, d);
            cpu.WriteGpr(X86Cpu.RAX, size, d);
        }
    }
}
