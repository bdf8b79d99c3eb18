using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Enabling rules of the x87 FPU, MMX and SSE (SDM vol. 3, 2.5 table 2-2, 12.1 table 12-1, 13.1
/// table 13-1) and the state those instructions keep. The kernel sets CR0.EM/MP/TS (and
/// CR4.OSFXSR) as asked, then runs the probe at CPL 0; a fault halts in its handler with the
/// frame EIP, CS, EFLAGS (#NM, #UD, #MF) or error code, EIP, ... (#GP) on the kernel stack.
/// </summary>
[TestFixture]
public sealed class FpuEnablingTests
{
    private const uint Data = CpuHarness.DataBase;
    private const ulong Em = Cr0.EM, Mp = Cr0.MP, Ts = Cr0.TS;

    /// <summary>Every EM/MP/TS combination, in XTF's order.</summary>
    private static readonly ulong[] Cr0Cells = [0, Ts, Mp, Mp | Ts, Em, Em | Ts, Em | Mp, Em | Mp | Ts];

    private static string Name(ulong cr0) => cr0 == 0 ? "-" : string.Join(
        "+", new[] { (Em, "EM"), (Mp, "MP"), (Ts, "TS") }.Where(b => (cr0 & b.Item1) != 0).Select(b => b.Item2));

    /// <summary>
    /// Table 2-2: an x87 instruction is #NM whenever EM or TS is set; WAIT only when MP and TS
    /// are both set. Table 12-1: MMX is #UD with EM set, else #NM with TS set. Table 13-1: SSE
    /// (CR4.OSFXSR set) is #UD with EM set, else #NM with TS set; MP never matters.
    /// </summary>
    private static IEnumerable<TestCaseData> Cells()
    {
        foreach (ulong cr0 in Cr0Cells)
        {
            bool em = (cr0 & Em) != 0, ts = (cr0 & Ts) != 0, mp = (cr0 & Mp) != 0;
            int? x87 = em || ts ? (int)X86Vector.NM : null;
            int? wait = mp && ts ? (int)X86Vector.NM : null;
            int? media = em ? (int)X86Vector.UD : ts ? (int)X86Vector.NM : null;
            yield return Cell("fnop", cr0, x87);
            yield return Cell("fninit", cr0, x87);
            yield return Cell("wait", cr0, wait);
            yield return Cell("movq mm0,mm0", cr0, media);
            yield return Cell("emms", cr0, media);
            yield return Cell("movups xmm0,xmm0", cr0, media);
            yield return Cell("movaps xmm1,[aligned]", cr0, media);
            yield return Cell("addps xmm0,xmm1", cr0, media);
            yield return Cell("divss xmm0,[data]", cr0, media);
            yield return Cell("ucomiss xmm0,xmm0", cr0, media);

            // SSE2 encodings (vol. 3, 13.1, table 13-1 covers them too); CPUID does not report SSE2 yet.
            yield return Cell("movd xmm0,eax", cr0, media);

            // Table 13-1: with CR4.OSFXSR clear every SSE instruction is #UD, whatever TS says.
            yield return Cell("movups xmm0,xmm0 (OSFXSR clear)", cr0, (int)X86Vector.UD);

            // LDMXCSR/STMXCSR (vol. 2, exception type 5): the SSE rules of table 13-1.
            yield return Cell("ldmxcsr [data]", cr0, media);
            yield return Cell("stmxcsr [data]", cr0, media);
            yield return Cell("ldmxcsr [data] (OSFXSR clear)", cr0, (int)X86Vector.UD);

            // CLFLUSH (vol. 2, CLFLUSH): no CR0/CR4 condition; it executes in every cell.
            yield return Cell("clflush [data]", cr0, null);

            // FXSAVE (vol. 2, FXSAVE): #NM if EM or TS, as x87; OSFXSR does not matter.
            yield return Cell("fxsave", cr0, x87);

            // Instructions of the advertised classes that the model does not implement: the
            // enabling rules above still decide first; only then #UD (not implemented).
            int ud = (int)X86Vector.UD;
            yield return Cell("fadd st0,st1 (not implemented)", cr0, x87 ?? ud);
            yield return Cell("paddb mm0,mm1 (not implemented)", cr0, media ?? ud);
            yield return Cell("rcpps xmm0,xmm1 (not implemented)", cr0, media ?? ud);
        }
    }

    private static TestCaseData Cell(string probe, ulong cr0, int? vector) =>
        new TestCaseData(probe, cr0, vector)
            .SetName($"CR0 {Name(cr0)}: {probe} -> {(vector is { } v ? "#" + (X86Vector)v : "executes")}");

    private static void Probe(Assembler a, string probe)
    {
        switch (probe)
        {
            case "fnop": a.fnop(); break;
            case "fninit": a.fninit(); break;
            case "wait": a.wait(); break;
            case "movq mm0,mm0": a.movq(mm0, mm0); break;
            case "emms": a.emms(); break;
            case "movaps xmm1,[aligned]": a.movaps(xmm1, __xmmword_ptr[Data]); break;
            case "fxsave": a.fxsave(__[Data + 0x200]); break;
            case "ldmxcsr [data]" or "ldmxcsr [data] (OSFXSR clear)": a.ldmxcsr(__dword_ptr[Data + 0x400]); break;
            case "stmxcsr [data]": a.stmxcsr(__dword_ptr[Data + 0x400]); break;
            case "clflush [data]": a.clflush(__byte_ptr[Data]); break;
            case "fadd st0,st1 (not implemented)": a.fadd(st0, st1); break;
            case "paddb mm0,mm1 (not implemented)": a.paddb(mm0, mm1); break;
            case "rcpps xmm0,xmm1 (not implemented)": a.rcpps(xmm0, xmm1); break;
            case "addps xmm0,xmm1": a.addps(xmm0, xmm1); break;
            case "divss xmm0,[data]": a.divss(xmm0, __dword_ptr[Data]); break;
            case "ucomiss xmm0,xmm0": a.ucomiss(xmm0, xmm0); break;
            case "movd xmm0,eax": a.movd(xmm0, eax); break;
            default: a.movups(xmm0, xmm0); break;
        }
    }

    /// <summary>Sets CR0.EM/MP/TS to <paramref name="cr0Bits"/> (and CR0.NE), CR4.OSFXSR as asked, runs <paramref name="probe"/>, then INT 0x81.</summary>
    private static CpuHarness Run(ulong cr0Bits, bool osfxsr, Action<Assembler> probe, out uint probeAddress)
    {
        var h = new CpuHarness();
        var at = default(Label);
        h.Run(a =>
        {
            at = a.CreateLabel();
            a.mov(eax, cr0);
            a.and(eax, ~(uint)(Em | Mp | Ts));
            a.or(eax, (uint)(cr0Bits | Cr0.NE));
            a.mov(cr0, eax);
            a.mov(eax, cr4);
            a.or(eax, osfxsr ? (uint)Cr4.OSFXSR : 0);
            a.mov(cr4, eax);
            a.Label(ref at);
            probe(a);
            a.@int(CpuHarness.ExitVector);
        });
        probeAddress = h.AddressOf(at);
        return h;
    }

    [TestCaseSource(nameof(Cells))]
    public void EnablingRule(string probe, ulong cr0, int? vector)
    {
        var h = Run(cr0, osfxsr: !probe.Contains("OSFXSR clear", StringComparison.Ordinal), a => Probe(a, probe), out uint at);
        if (vector is null)
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "the instruction executes");
            return;
        }

        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(vector), "vector");
            Assert.That(h.Frame(0), Is.EqualTo(at), "#NM and #UD are faults without error code: EIP is the probe's");
        });
    }

    [Test(Description = "MOVAPS (vol. 2, exception type 1): a memory operand not 16-byte aligned is #GP(0); MOVUPS accepts it")]
    public void MovapsNeedsSixteenByteAlignment()
    {
        var h = Run(0, osfxsr: true, a => a.movaps(xmm0, __xmmword_ptr[Data + 8]), out uint at);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(0u), "error code 0");
            Assert.That(h.Frame(1), Is.EqualTo(at), "EIP of MOVAPS");
        });

        h = Run(0, osfxsr: true, a => a.movups(xmm0, __xmmword_ptr[Data + 8]), out _);
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
    }

    [Test(Description = "MOVAPS store (vol. 2, MOVAPS m128, xmm): misaligned is #GP(0) and writes nothing")]
    public void MisalignedMovapsStoreWritesNothing()
    {
        var h = Run(0, osfxsr: true, a =>
        {
            a.mov(__dword_ptr[Data], 0x11111111);
            a.movups(xmm2, __xmmword_ptr[Data]);
            a.mov(__dword_ptr[Data + 0x14], 0x22222222);
            a.movaps(__xmmword_ptr[Data + 0x14], xmm2);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.ReadU32(Data + 0x14), Is.EqualTo(0x22222222u), "destination unchanged");
        });
    }

    [Test(Description = "MOVUPS/MOVAPS copy all 128 bits: memory -> XMM0 -> XMM1 -> memory")]
    public void MovapsCopiesAllBits()
    {
        var h = new CpuHarness();
        h.WriteBytes(Data, BitConverter.GetBytes(0x8877665544332211ul));
        h.WriteBytes(Data + 8, BitConverter.GetBytes(0x00FFEEDDCCBBAA99ul));
        h.Run(a =>
        {
            a.mov(eax, cr4);
            a.or(eax, (uint)Cr4.OSFXSR);
            a.mov(cr4, eax);
            a.movups(xmm0, __xmmword_ptr[Data]);
            a.movaps(xmm1, xmm0);
            a.movaps(__xmmword_ptr[Data + 0x20], xmm1);
            a.@int(CpuHarness.ExitVector);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.Cpu.Xmm[1].Low, Is.EqualTo(0x8877665544332211ul));
            Assert.That(h.Cpu.Xmm[1].High, Is.EqualTo(0x00FFEEDDCCBBAA99ul));
            Assert.That(h.ReadU32(Data + 0x20), Is.EqualTo(0x44332211u), "stored bits 31:0");
            Assert.That(h.ReadU32(Data + 0x2C), Is.EqualTo(0x00FFEEDDu), "stored bits 127:96");
        });
    }

    [Test(Description = "FNINIT (vol. 2, FINIT): FCW = 037FH, FSW = 0 (TOP 0), FTW = FFFFH; FNSTCW and FNSTSW read them back")]
    public void FninitResetsControlWord()
    {
        var h = Run(0, osfxsr: false, a =>
        {
            a.mov(__word_ptr[Data], 0x0000);
            a.fldcw(__word_ptr[Data]);
            a.fninit();
            a.fnstcw(__word_ptr[Data + 2]);
            a.mov(eax, 0xFFFFFFFF);
            a.fnstsw(ax);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.ReadU32(Data + 2) & 0xFFFF, Is.EqualTo(0x037Fu), "FCW");
            Assert.That(h.Cpu.FpuTagWord, Is.EqualTo((ushort)0xFFFF), "FTW: all empty");
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xFFFF0000u), "FNSTSW AX wrote FSW = 0 to AX only");
        });
    }

    [Test(Description = "MMX (vol. 3, 12.2, table 12-2): MOVQ sets TOP = 0 and every tag valid, and bits 79:64 of the destination to 1s; EMMS then sets every tag empty")]
    public void MmxTagsAndEmms()
    {
        var h = new CpuHarness();
        h.WriteBytes(Data, BitConverter.GetBytes(0x0123456789ABCDEFul));
        h.Run(a =>
        {
            a.fninit();
            a.movq(mm3, __qword_ptr[Data]);
            a.movq(mm5, mm3);
            a.fnstsw(ax);
            a.movq(__qword_ptr[Data + 8], mm5);
            a.@int(CpuHarness.ExitVector);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.FpuTagWord, Is.EqualTo((ushort)0), "all valid");
            Assert.That((h.Cpu.Eax >> 11) & 7, Is.EqualTo(0u), "TOP = 0");
            Assert.That(h.Cpu.FpuRegisters[5].Significand, Is.EqualTo(0x0123456789ABCDEFul), "MM5 = R5's significand");
            Assert.That(h.Cpu.FpuRegisters[5].SignExponent, Is.EqualTo((ushort)0xFFFF), "R5 bits 79:64 all ones");
            Assert.That(h.ReadU32(Data + 8), Is.EqualTo(0x89ABCDEFu), "MOVQ m64, mm stores");
        });

        h = Run(0, osfxsr: false, a =>
        {
            a.movq(mm0, mm0);
            a.emms();
        }, out _);
        Assert.That(h.Cpu.FpuTagWord, Is.EqualTo((ushort)0xFFFF), "EMMS: all empty");
    }

    [Test(Description = "FINIT is WAIT then FNINIT: with EM set (MP, TS clear) the WAIT executes and the #NM reports FNINIT's address, one byte on")]
    public void FinitFaultsAtTheFnForm()
    {
        var h = Run(Em, osfxsr: false, a => a.finit(), out uint at);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.NM));
            Assert.That(h.Frame(0), Is.EqualTo(at + 1), "EIP of the DB E3 after the 9B");
        });
    }

    [Test(Description = "Vol. 1, 8.1.5 and 8.6: FLDCW unmasking a set exception flag makes it pending; the next waiting instruction (WAIT) takes #MF with CR0.NE set, FNCLEX clears it")]
    public void UnmaskedPendingExceptionRaisesMf()
    {
        // FXRSTOR an image with FSW.IE (bit 0) set and FCW = 037FH (all masked), then unmask IE.
        var h = new CpuHarness();
        h.WriteBytes(Data, BitConverter.GetBytes(0x0001037Fu)); // FCW 037FH, FSW 0001H
        h.WriteBytes(Data + 24, BitConverter.GetBytes(0x1F80u)); // MXCSR
        h.WriteBytes(Data + 0x400, BitConverter.GetBytes((ushort)0x037E));
        var wait = default(Label);
        h.Run(a =>
        {
            wait = a.CreateLabel();
            a.mov(eax, cr0);
            a.or(eax, (uint)Cr0.NE);
            a.mov(cr0, eax);
            a.fxrstor(__[Data]);
            a.fnop(); // ES clear: nothing pending yet
            a.fldcw(__word_ptr[Data + 0x400]);
            a.Label(ref wait);
            a.wait();
            a.@int(CpuHarness.ExitVector);
        });
        uint waitAddress = h.AddressOf(wait);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.MF));
            Assert.That(h.Frame(0), Is.EqualTo(waitAddress), "#MF is a fault at the WAIT");
            Assert.That(h.Cpu.FpuStatusWord & 0x8081, Is.EqualTo(0x8081), "IE, ES and B set");
        });

        h = new CpuHarness();
        h.WriteBytes(Data, BitConverter.GetBytes(0x0001037Fu));
        h.WriteBytes(Data + 24, BitConverter.GetBytes(0x1F80u));
        h.WriteBytes(Data + 0x400, BitConverter.GetBytes((ushort)0x037E));
        h.Run(a =>
        {
            a.mov(eax, cr0);
            a.or(eax, (uint)Cr0.NE);
            a.mov(cr0, eax);
            a.fxrstor(__[Data]);
            a.fldcw(__word_ptr[Data + 0x400]);
            a.fnclex();
            a.wait();
            a.@int(CpuHarness.ExitVector);
        });
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "FNCLEX cleared the pending exception");
    }

    [Test(Description = "FXSAVE/FXRSTOR (vol. 2, FXSAVE, non-64-bit layout): FCW, FSW, abridged FTW, MXCSR, MXCSR_MASK, ST/MM and XMM slots round-trip")]
    public void FxsaveImageRoundTrips()
    {
        var h = new CpuHarness();
        h.WriteBytes(Data + 0x800, BitConverter.GetBytes(0xCAFEF00DDEADBEEFul));
        h.Run(a =>
        {
            a.mov(eax, cr4);
            a.or(eax, (uint)Cr4.OSFXSR);
            a.mov(cr4, eax);
            a.fninit();
            a.movq(mm2, __qword_ptr[Data + 0x800]);
            a.movups(xmm7, __xmmword_ptr[Data + 0x800]);
            a.emms();
            a.fxsave(__[Data]);
            a.fninit();
            a.movaps(xmm7, xmm0);
            a.fxrstor(__[Data]);
            a.fxsave(__[Data + 0x200]);
            a.@int(CpuHarness.ExitVector);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector));
            Assert.That(h.ReadU32(Data) & 0xFFFF, Is.EqualTo(0x037Fu), "FCW");
            Assert.That(h.ReadU8(Data + 4), Is.EqualTo((byte)0), "abridged FTW: EMMS left every register empty");
            Assert.That(h.ReadU32(Data + 24), Is.EqualTo(0x1F80u), "MXCSR");
            Assert.That(h.ReadU32(Data + 28), Is.EqualTo(X86Cpu.MxcsrMask), "MXCSR_MASK");
            Assert.That(h.ReadU32(Data + 32 + (2 * 16)), Is.EqualTo(0xDEADBEEFu), "ST(2) = R2 = MM2 with TOP 0");
            Assert.That(h.ReadU32(Data + 32 + (2 * 16) + 8) & 0xFFFF, Is.EqualTo(0xFFFFu), "R2 bits 79:64");
            Assert.That(h.ReadU32(Data + 160 + (7 * 16) + 4), Is.EqualTo(0xCAFEF00Du), "XMM7");
            Assert.That(h.Cpu.Xmm[7].Low, Is.EqualTo(0xCAFEF00DDEADBEEFul), "FXRSTOR restored XMM7");
            Assert.That(h.ReadU32(Data + 0x200 + 160 + (7 * 16)), Is.EqualTo(0xDEADBEEFu), "second image equals the first");
        });
    }

    [Test(Description = "FXRSTOR (vol. 2): an MXCSR image with a bit outside MXCSR_MASK (here DAZ, bit 6) is #GP(0) and loads nothing")]
    public void FxrstorRejectsReservedMxcsrBits()
    {
        var h = new CpuHarness();
        h.WriteBytes(Data, BitConverter.GetBytes(0u)); // FCW 0000H, FSW 0
        h.WriteBytes(Data + 24, BitConverter.GetBytes(0x1FC0u));
        h.Run(a =>
        {
            a.fninit();
            a.fxrstor(__[Data]);
            a.@int(CpuHarness.ExitVector);
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Cpu.FpuControlWord, Is.EqualTo((ushort)0x037F), "FCW not loaded");
            Assert.That(h.Cpu.Mxcsr, Is.EqualTo(0x1F80u));
        });
    }

    [Test(Description = "CPUID.1:EDX reports FPU (0), MMX (23), FXSR (24) and SSE (25), and not SSE2 (26) until the CPU-model issue (17); the SSE2 encodings the model has execute anyway")]
    public void CpuidReportsWhatIsImplemented()
    {
        var r = CpuidLeaves.Native(1, 0);
        Assert.Multiple(() =>
        {
            Assert.That(r.Edx & ((1u << 0) | (1u << 23) | (1u << 24) | (1u << 25)), Is.EqualTo((1u << 0) | (1u << 23) | (1u << 24) | (1u << 25)));
            Assert.That(r.Edx & (1u << 26), Is.Zero);
            Assert.That(r.Ecx & ((1u << 26) | (1u << 27) | (1u << 28)), Is.Zero, "no XSAVE, OSXSAVE, AVX");
        });
        var h = Run(0, osfxsr: true, a => a.movapd(xmm0, xmm1), out _);
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "MOVAPD (SSE2)");
    }

    [Test(Description = "LDMXCSR (vol. 2): loads MXCSR from memory and STMXCSR stores it; a value with a bit outside MXCSR_MASK (DAZ, bit 6, on this CPU) is #GP(0) and loads nothing")]
    public void LdmxcsrAndStmxcsr()
    {
        var h = Run(0, osfxsr: true, a =>
        {
            a.mov(__dword_ptr[Data + 0x400], 0x0000FFBFu); // FZ, RC=11, all masks and flags, no DAZ: exactly MXCSR_MASK
            a.ldmxcsr(__dword_ptr[Data + 0x400]);
            a.stmxcsr(__dword_ptr[Data + 0x404]);
            a.mov(__dword_ptr[Data + 0x408], 0x1FC0u);      // DAZ set
            a.ldmxcsr(__dword_ptr[Data + 0x408]);
        }, out _);
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Data + 0x404), Is.EqualTo(0xFFBFu), "STMXCSR stored what LDMXCSR loaded");
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP), "reserved bit");
            Assert.That(h.Frame(0), Is.Zero, "error code 0");
            Assert.That(h.Cpu.Mxcsr, Is.EqualTo(0xFFBFu), "the faulting LDMXCSR loaded nothing");
        });
    }

    [Test(Description = "CLFLUSH (vol. 2): the operand is checked as a read, so an offset past the data segment's limit is #GP(0); CPUID.1 reports CLFSH (EDX bit 19) and a 64-byte line (EBX[15:8] = 8)")]
    public void ClflushChecksTheSegmentAndIsReported()
    {
        var h = Run(0, osfxsr: true, a =>
        {
            a.mov(eax, (uint)CpuHarness.SmallData);
            a.mov(es, eax);
            a.clflush(__byte_ptr.es[0xFFF]);   // the last byte within the limit: no fault
            a.clflush(__byte_ptr.es[0x1000]);  // past the limit
        }, out _);
        var r = CpuidLeaves.Native(1, 0);
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.Zero, "error code 0");
            Assert.That(r.Edx & (1u << 19), Is.Not.Zero, "CLFSH");
            Assert.That((r.Ebx >> 8) & 0xFF, Is.EqualTo(8u), "CLFLUSH line size in 8-byte units");
        });
    }
}
