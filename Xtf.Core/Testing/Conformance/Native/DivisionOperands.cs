using Iced.Intel;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// Start states for a DIV or IDIV that cannot raise #DE (SDM vol. 2 DIV/IDIV: #DE when the divisor
/// is 0 or the quotient does not fit the destination). A quotient q and remainder r (|r| &lt; |d|,
/// with the dividend's sign for IDIV) are chosen first; the dividend q * d + r is written to AX,
/// DX:AX, EDX:EAX or RDX:RAX. The division is then checked with 128-bit arithmetic before the
/// snippet may run on the host, where a #DE would kill the process.
/// </summary>
internal static class DivisionOperands
{
    public static bool TryChoose(Random rng, in Instruction division, OracleState state)
    {
        var divisor = division.Op0Register;
        int size = divisor.GetSize(), bits = size * 8;
        var full = divisor.GetFullRegister();
        if (full == Register.RAX || (size > 1 && full == Register.RDX))
            return false; // the divisor must not be part of the dividend
        bool signed = division.Mnemonic == Mnemonic.Idiv;
        ulong mask = size == 8 ? ulong.MaxValue : (1ul << bits) - 1;

        ulong d = SnippetOperands.Edge(rng, bits);
        if (d == 0)
            d = 1;
        ulong q = SnippetOperands.Edge(rng, bits);
        UInt128 dividend;
        if (signed)
        {
            Int128 sd = SignExtend(d, bits), sq = SignExtend(q, bits);
            Int128 product = sq * sd;
            Int128 magnitude = (Int128)(ulong)rng.NextInt64() % Int128.Abs(sd);
            Int128 r = product < 0 || (product == 0 && rng.Next(2) == 0) ? -magnitude : magnitude;
            Int128 n = product + r;
            if (n / sd != sq)
                return false;
            dividend = (UInt128)n;
        }
        else
        {
            UInt128 r = (UInt128)(ulong)rng.NextInt64() % d;
            dividend = ((UInt128)q * d) + r;
            if (dividend / d != q)
                return false;
        }

        Parts.Write(state, divisor, d);
        if (size == 1)
        {
            Parts.Write(state, Register.AX, (ulong)(dividend & 0xFFFF));
            return true;
        }

        var (low, high) = size switch
        {
            2 => (Register.AX, Register.DX),
            4 => (Register.EAX, Register.EDX),
            _ => (Register.RAX, Register.RDX),
        };
        Parts.Write(state, low, (ulong)(dividend & mask));
        Parts.Write(state, high, (ulong)((dividend >> bits) & mask));
        return true;
    }

    private static Int128 SignExtend(ulong v, int bits) => bits == 64 ? (long)v : (Int128)(((long)(v << (64 - bits))) >> (64 - bits));
}
