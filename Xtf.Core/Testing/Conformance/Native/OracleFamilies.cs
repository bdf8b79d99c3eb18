using Iced.Intel;
using Xtf.Core.Cpu;
using M = Iced.Intel.Mnemonic;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>The snippet families of <c>conformance --native</c>, in the order they run.</summary>
public static class OracleFamilies
{
    private const uint Popcnt = 1u << 23; // CPUID.1:ECX.POPCNT (SDM vol. 2, CPUID)

    private static readonly M[] Conditions =
    [
        M.Seto, M.Setno, M.Setb, M.Setae, M.Sete, M.Setne, M.Setbe, M.Seta, M.Sets, M.Setns, M.Setp, M.Setnp, M.Setl, M.Setge, M.Setle, M.Setg,
        M.Cmovo, M.Cmovno, M.Cmovb, M.Cmovae, M.Cmove, M.Cmovne, M.Cmovbe, M.Cmova, M.Cmovs, M.Cmovns, M.Cmovp, M.Cmovnp, M.Cmovl, M.Cmovge, M.Cmovle, M.Cmovg,
    ];

    /// <summary>POPCNT is drawn only when both the host and our CPUID (CPUID.1:ECX[23]) have it.</summary>
    public static bool PopcntOnBoth =>
        System.Runtime.Intrinsics.X86.Popcnt.IsSupported && (CpuidLeaves.Native(1, 0).Ecx & Popcnt) != 0;

    /// <summary>Why a form is left out of every family, or nothing.</summary>
    public static IReadOnlyList<string> Skipped { get; } = PopcntOnBoth ? [] :
        [$"popcnt: {(System.Runtime.Intrinsics.X86.Popcnt.IsSupported ? "our CPUID does not advertise POPCNT (CPUID.1:ECX[23] = 0)" : "the host has no POPCNT")}"];

    /// <summary>Every family.</summary>
    public static IReadOnlyList<OracleFamily> All { get; } =
    [
        new("alu", "add adc sub sbb and or xor cmp test inc dec neg not, 8/16/32/64-bit, register and immediate forms",
            [M.Add, M.Adc, M.Sub, M.Sbb, M.And, M.Or, M.Xor, M.Cmp, M.Test, M.Inc, M.Dec, M.Neg, M.Not]),
        new("shift", "shl shr sar rol ror rcl rcr by 1, imm8 and CL; shld shrd by imm8 and CL",
            [M.Shl, M.Shr, M.Sar, M.Rol, M.Ror, M.Rcl, M.Rcr, M.Shld, M.Shrd]),
        new("bit", "bt bts btr btc (register and imm8 offsets), bsf bsr" + (PopcntOnBoth ? ", popcnt" : ""),
            PopcntOnBoth ? [M.Bt, M.Bts, M.Btr, M.Btc, M.Bsf, M.Bsr, M.Popcnt] : [M.Bt, M.Bts, M.Btr, M.Btc, M.Bsf, M.Bsr]),
        new("muldiv", "mul, imul (one, two and three operands), div and idiv with operands that cannot #DE",
            [M.Mul, M.Imul, M.Div, M.Idiv]),
        new("cc", "setcc and cmovcc after flag-setting ALU instructions",
            [.. Conditions, M.Add, M.Sub, M.Cmp, M.Test, M.Xor, M.Neg]),
        new("move", "cmpxchg xadd movzx movsx movsxd bswap xchg, register forms",
            [M.Cmpxchg, M.Xadd, M.Movzx, M.Movsx, M.Movsxd, M.Bswap, M.Xchg]),
    ];

    /// <summary>The family named <paramref name="name"/>, or null.</summary>
    public static OracleFamily? Find(string name) => All.FirstOrDefault(f => f.Name == name);
}
