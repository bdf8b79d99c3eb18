using Iced.Intel;
using static Xtf.Core.Cpu.Execution.Sse.SseOperands;

namespace Xtf.Core.Cpu.Execution.Sse;

/// <summary>
/// SSE and SSE2 floating-point arithmetic, compare and logic instructions, legacy encodings
/// (SDM vol. 2, each instruction's page; vol. 1, 10.4 and 11.4): ADD, SUB, MUL, DIV, SQRT, MIN,
/// MAX and CMP in PS, SS, PD and SD forms, COMISS/UCOMISS/COMISD/UCOMISD, and AND, ANDN, OR, XOR
/// in PS and PD forms. Packed forms with a memory operand need it 16-byte aligned (exception
/// type 2; type 4 for the logic ones, which in legacy SSE also need alignment); scalar forms take
/// any alignment (type 3). The PD and SD forms are SSE2: CPUID still does not report SSE2 until
/// the CPU-model issue (17) lands, but they execute as a processor with SSE2 runs them.
/// </summary>
internal static class SseArithmetic
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        Family(add, SimdOperation.Add, Mnemonic.Addps, Mnemonic.Addss, Mnemonic.Addpd, Mnemonic.Addsd);
        Family(add, SimdOperation.Subtract, Mnemonic.Subps, Mnemonic.Subss, Mnemonic.Subpd, Mnemonic.Subsd);
        Family(add, SimdOperation.Multiply, Mnemonic.Mulps, Mnemonic.Mulss, Mnemonic.Mulpd, Mnemonic.Mulsd);
        Family(add, SimdOperation.Divide, Mnemonic.Divps, Mnemonic.Divss, Mnemonic.Divpd, Mnemonic.Divsd);
        Family(add, SimdOperation.SquareRoot, Mnemonic.Sqrtps, Mnemonic.Sqrtss, Mnemonic.Sqrtpd, Mnemonic.Sqrtsd);
        Family(add, SimdOperation.Minimum, Mnemonic.Minps, Mnemonic.Minss, Mnemonic.Minpd, Mnemonic.Minsd);
        Family(add, SimdOperation.Maximum, Mnemonic.Maxps, Mnemonic.Maxss, Mnemonic.Maxpd, Mnemonic.Maxsd);

        add(Mnemonic.Cmpps, (X86Cpu c, in Instruction i) => Compare(c, i, FloatFormat.Single, packed: true));
        add(Mnemonic.Cmpss, (X86Cpu c, in Instruction i) => Compare(c, i, FloatFormat.Single, packed: false));
        add(Mnemonic.Cmppd, (X86Cpu c, in Instruction i) => Compare(c, i, FloatFormat.Double, packed: true));

        // CMPSD xmm shares its mnemonic with the string CMPSD: StringOperations hands it to CompareScalarDouble.
        add(Mnemonic.Comiss, (X86Cpu c, in Instruction i) => OrderedCompare(c, i, FloatFormat.Single, signaling: true));
        add(Mnemonic.Ucomiss, (X86Cpu c, in Instruction i) => OrderedCompare(c, i, FloatFormat.Single, signaling: false));
        add(Mnemonic.Comisd, (X86Cpu c, in Instruction i) => OrderedCompare(c, i, FloatFormat.Double, signaling: true));
        add(Mnemonic.Ucomisd, (X86Cpu c, in Instruction i) => OrderedCompare(c, i, FloatFormat.Double, signaling: false));

        foreach (var (ps, pd, logic) in new (Mnemonic, Mnemonic, Func<ulong, ulong, ulong>)[]
        {
            (Mnemonic.Andps, Mnemonic.Andpd, (d, s) => d & s),
            (Mnemonic.Andnps, Mnemonic.Andnpd, (d, s) => ~d & s),
            (Mnemonic.Orps, Mnemonic.Orpd, (d, s) => d | s),
            (Mnemonic.Xorps, Mnemonic.Xorpd, (d, s) => d ^ s),
        })
        {
            var f = logic;
            add(ps, (X86Cpu c, in Instruction i) => Logic(c, i, f));
            add(pd, (X86Cpu c, in Instruction i) => Logic(c, i, f));
        }
    }

    /// <summary>CMPSD xmm1, xmm2/m64, imm8 (SSE2).</summary>
    public static void CompareScalarDouble(X86Cpu cpu, in Instruction i) => Compare(cpu, i, FloatFormat.Double, packed: false);

    private static void Family(Action<Mnemonic, InstructionHandler> add, SimdOperation op, Mnemonic ps, Mnemonic ss, Mnemonic pd, Mnemonic sd)
    {
        add(ps, (X86Cpu c, in Instruction i) => Arithmetic(c, i, op, FloatFormat.Single, packed: true));
        add(ss, (X86Cpu c, in Instruction i) => Arithmetic(c, i, op, FloatFormat.Single, packed: false));
        add(pd, (X86Cpu c, in Instruction i) => Arithmetic(c, i, op, FloatFormat.Double, packed: true));
        add(sd, (X86Cpu c, in Instruction i) => Arithmetic(c, i, op, FloatFormat.Double, packed: false));
    }

    /// <summary>
    /// The second source: all lanes of an XMM register or aligned m128 for packed forms; the low
    /// lane or an m32/m64 for scalar forms (the other lanes of the destination are kept).
    /// </summary>
    private static X86Cpu.XmmRegister Source(X86Cpu cpu, in Instruction i, FloatFormat f, bool packed) =>
        packed ? Read128(cpu, i, 1, aligned: true) : new X86Cpu.XmmRegister { Low = ReadScalar(cpu, i, 1, f.Bytes) };

    private static void Arithmetic(X86Cpu cpu, in Instruction i, SimdOperation op, FloatFormat f, bool packed) =>
        Lanewise(cpu, i, f, packed, op, predicate: -1);

    private static void Compare(X86Cpu cpu, in Instruction i, FloatFormat f, bool packed) =>
        Lanewise(cpu, i, f, packed, default, predicate: (int)i.Immediate8);

    /// <summary>
    /// One operation on every lane (the low one for scalar forms): <paramref name="op"/>, or the
    /// CMPPS/CMPSS predicate when <paramref name="predicate"/> is not -1. All lanes are computed
    /// before any is written, so an unmasked exception in one lane leaves the destination whole
    /// (SDM vol. 1, 11.5.1: no result is stored when a SIMD floating-point exception is taken).
    /// </summary>
    private static void Lanewise(X86Cpu cpu, in Instruction i, FloatFormat f, bool packed, SimdOperation op, int predicate)
    {
        CheckEnabled(cpu, i);
        var source = Source(cpu, i, f, packed);
        int dst = Index(i.Op0Register);
        var result = cpu.Xmm[dst];
        int lanes = packed ? 128 / f.Width : 1;
        Span<ulong> values = stackalloc ulong[4];
        uint flags = 0;
        for (int n = 0; n < lanes; n++)
        {
            ulong a = Lane(result, n, f.Width), b = Lane(source, n, f.Width);
            var r = predicate < 0 ? SimdFloat.Compute(op, f, a, b, cpu.Mxcsr) : SimdFloat.ComparePredicate(f, a, b, predicate, cpu.Mxcsr);
            values[n] = r.Value;
            flags |= r.Flags;
        }

        SimdException.Signal(cpu, flags);
        for (int n = 0; n < lanes; n++)
            SetLane(ref result, n, f.Width, values[n]);
        cpu.Xmm[dst] = result;
    }

    /// <summary>
    /// COMISS/UCOMISS/COMISD/UCOMISD (SDM vol. 2, COMISS, UCOMISS): unordered sets ZF, PF and CF;
    /// greater clears all three; less sets CF; equal sets ZF; OF, SF and AF are cleared. COMIS*
    /// raise IE for a QNaN as well as an SNaN, UCOMIS* for an SNaN only. An unmasked exception
    /// faults before EFLAGS change.
    /// </summary>
    private static void OrderedCompare(X86Cpu cpu, in Instruction i, FloatFormat f, bool signaling)
    {
        CheckEnabled(cpu, i);
        ulong b = ReadScalar(cpu, i, 1, f.Bytes);
        ulong a = Lane(cpu.Xmm[Index(i.Op0Register)], 0, f.Width);
        var (relation, flags) = SimdFloat.Compare(f, a, b, signaling, cpu.Mxcsr);
        SimdException.Signal(cpu, flags);
        uint status = relation switch
        {
            Relation.Unordered => RFlags.ZF | RFlags.PF | RFlags.CF,
            Relation.Less => RFlags.CF,
            Relation.Equal => RFlags.ZF,
            _ => 0,
        };
        const uint arithmetic = RFlags.OF | RFlags.SF | RFlags.ZF | RFlags.AF | RFlags.PF | RFlags.CF;
        cpu.Eflags = (cpu.Eflags & ~arithmetic) | status;
    }

    /// <summary>ANDPS/ANDNPS/ORPS/XORPS and the PD forms (SDM vol. 2): bitwise on all 128 bits, no floating-point exceptions.</summary>
    private static void Logic(X86Cpu cpu, in Instruction i, Func<ulong, ulong, ulong> logic)
    {
        CheckEnabled(cpu, i);
        var source = Read128(cpu, i, 1, aligned: true);
        ref var dst = ref cpu.Xmm[Index(i.Op0Register)];
        dst.Low = logic(dst.Low, source.Low);
        dst.High = logic(dst.High, source.High);
    }
}
