using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Cpu;

/// <summary>
/// The specialised forms and compiled blocks (X86Cpu.MaxTier) are a speed-up only: every integer
/// form they cover, run hot enough to be compiled, ends in exactly the state the single-step path
/// and the general handlers give (which the rule-named tests and the SingleStepTests conformance
/// run check against the SDM). Random register and flag states, fixed seeds.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class ExecutionTierTests
{
    private const uint Data = CpuHarness.DataBase;
    private const uint Counter = Data + 0x800;
    private const int Iterations = 300; // beyond the block compiler's threshold

    private static readonly Dictionary<string, Action<Assembler>> Forms = new()
    {
        ["add r32, r32"] = a => a.add(eax, ebx),
        ["adc r32, r32"] = a => a.adc(edx, ecx),
        ["sub r32, imm8"] = a => a.sub(ebx, 3),
        ["sbb r32, imm32"] = a => a.sbb(edi, 0x12345678),
        ["cmp r32, r32"] = a => a.cmp(eax, edx),
        ["and r32, imm32"] = a => a.and(eax, 0x0F0F0F0F),
        ["or r16, r16"] = a => a.or(cx, dx),
        ["xor r8, r8"] = a => a.xor(al, bl),
        ["test r32, r32"] = a => a.test(ecx, edi),
        ["add r8, imm8"] = a => a.add(dl, 0x7F),
        ["sub r16, imm16"] = a => a.sub(bp, 0x8001),
        ["add r32, m32"] = a => a.add(eax, __dword_ptr[esi + 8]),
        ["sub r16, m16"] = a => a.sub(bx, __word_ptr[esi + 2]),
        ["cmp r8, m8"] = a => a.cmp(cl, __byte_ptr[esi + 3]),
        ["add m32, r32"] = a => a.add(__dword_ptr[esi + 12], edx),
        ["sub m32, imm8"] = a => a.sub(__dword_ptr[esi + 16], 7),
        ["cmp m32, r32"] = a => a.cmp(__dword_ptr[esi + 8], eax),
        ["cmp m8, imm8"] = a => a.cmp(__byte_ptr[esi + 1], 0x80),
        ["mov r32, r32"] = a => a.mov(edi, eax),
        ["mov r8, imm8"] = a => a.mov(bl, 0x5A),
        ["mov r32, m32 (base+index*4+disp)"] = a => a.mov(edx, __dword_ptr[esi + ebx * 4 + 4]),
        ["mov m16, r16"] = a => a.mov(__word_ptr[esi + 20], ax),
        ["mov m32, imm32"] = a => a.mov(__dword_ptr[esi + 24], 0xCAFEF00D),
        ["mov r32, m32 (absolute)"] = a => a.mov(eax, __dword_ptr[Data + 0x48]),
        ["inc r32"] = a => a.inc(eax),
        ["dec r16"] = a => a.dec(dx),
        ["inc r8 after add (CF kept)"] = a => { a.add(eax, ebx); a.inc(cl); },
        ["dec m32"] = a => a.dec(__dword_ptr[esi + 28]),
        ["not r32"] = a => a.not(ebx),
        ["neg r8"] = a => a.neg(al),
        ["neg m16"] = a => a.neg(__word_ptr[esi + 30]),
        ["shl r32, 1"] = a => a.shl(eax, 1),
        ["shl r32, imm8"] = a => a.shl(edx, 5),
        ["shr r32, imm8"] = a => a.shr(ebx, 31),
        ["sar r16, imm8 (count beyond width)"] = a => a.sar(cx, 20),
        ["shl r8, imm8 after sub (AF kept)"] = a => { a.sub(eax, ebx); a.shl(dl, 3); },
        ["shr m32, imm8"] = a => a.shr(__dword_ptr[esi + 32], 3),
        ["movzx r32, r8"] = a => a.movzx(eax, bl),
        ["movsx r32, r16"] = a => a.movsx(edx, cx),
        ["movzx r16, m8"] = a => a.movzx(di, __byte_ptr[esi + 5]),
        ["movsx r32, m8"] = a => a.movsx(ebp, __byte_ptr[esi + 6]),
        ["lea r32, [base+index*8+disp]"] = a => a.lea(eax, __[ebx + ecx * 8 + 0x1234]),
        ["lea r16, [base+disp]"] = a => a.lea(dx, __[edi - 4]),
        ["push r32; pop r32"] = a => { a.push(eax); a.pop(edx); },
        ["push imm8; pop r16"] = a => { a.push(-3); a.pop(bx); a.pop(cx); },
        ["nop"] = a => a.nop(),
    };

    private static readonly string[] Conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var (name, emit) in Forms)
            yield return new TestCaseData(emit).SetName($"Every tier agrees on {name}");
        for (int cc = 0; cc < 16; cc++)
        {
            int c = cc;
            yield return new TestCaseData((Action<Assembler>)(a => Jcc(a, c, a => a.sub(eax, ebx))))
                .SetName($"Every tier agrees on j{Conditions[cc]} after sub");
            yield return new TestCaseData((Action<Assembler>)(a => Jcc(a, c, a => a.inc(edx))))
                .SetName($"Every tier agrees on j{Conditions[cc]} after inc");
            yield return new TestCaseData((Action<Assembler>)(a => Jcc(a, c, a => a.xor(ecx, edi))))
                .SetName($"Every tier agrees on j{Conditions[cc]} after xor");
        }

        yield return new TestCaseData((Action<Assembler>)CallAndReturn).SetName("Every tier agrees on call rel32 and ret");
    }

    [TestCaseSource(nameof(Cases))]
    public void TiersAgree(Action<Assembler> body)
    {
        var random = new Random(TestContext.CurrentContext.Test.Name.GetHashCode(StringComparison.Ordinal));
        for (int state = 0; state < 8; state++)
        {
            uint[] regs = [.. Enumerable.Range(0, 8).Select(_ => (uint)random.NextInt64(0, 1L << 32))];
            byte[] data = new byte[64];
            random.NextBytes(data);
            uint flags = (uint)random.Next() & RFlags.Status;

            var reference = RunLoop(ExecutionTier.Stepping, body, regs, data, flags);
            foreach (var tier in (ExecutionTier[])[ExecutionTier.Specialised, ExecutionTier.Compiled])
                Assert.That(RunLoop(tier, body, regs, data, flags), Is.EqualTo(reference), $"{tier}, state {state}");
        }
    }

    [TestCase(TestName = "Self-modifying code: a store into the next instruction takes effect even inside a compiled block (SDM vol. 3, 11.6)")]
    public void StoreIntoCompiledBlockTakesEffect()
    {
        // Each iteration stores CL to [ESI+EDI]: a data byte while EDX counts down from 300, the
        // imm8 of the following "add ebx, imm8" once EDX is negative (EDI = distance from Data to
        // that imm8, kept at Data+0x40). The block is compiled long before the first such store.
        const int n = 400;
        var patch = default(Label);
        void Emit(Assembler a)
        {
            var top = a.CreateLabel();
            patch = a.CreateLabel();
            a.mov(ecx, n);
            a.mov(edx, 300);
            a.xor(ebx, ebx);
            a.mov(esi, Data);
            a.Label(ref top);
            a.dec(edx);
            a.mov(edi, edx);
            a.sar(edi, 31);
            a.and(edi, __dword_ptr[Data + 0x40]);
            a.mov(__byte_ptr[esi + edi], cl);
            a.Label(ref patch);
            a.add(ebx, 0); // 83 C3 ib
            a.dec(ecx);
            a.jne(top);
            a.hlt();
        }

        var h = new CpuHarness();
        uint immediate = (uint)h.Load(CpuHarness.CodeBase, Emit).GetLabelRIP(patch) + 2;
        Assert.That(h.ReadU8(immediate - 2), Is.EqualTo(0x83), "add ebx, imm8 encoding");
        h.WriteU32(Data + 0x40, immediate - Data);
        Assert.That(h.Run(Emit, budget: 100_000), Is.EqualTo(StopReason.Halted));

        // Iteration i (1-based) stores CL = n - i + 1; from i = 301 on the store reaches the imm8,
        // and the add that follows adds that byte sign-extended.
        uint expected = 0;
        for (int i = 301; i <= n; i++)
            expected += (uint)(sbyte)(byte)(n - i + 1);
        Assert.That(h.Cpu.Ebx, Is.EqualTo(expected));
    }

    [TestCase(TestName = "A fault inside a compiled block is taken at the faulting instruction's EIP with every earlier instruction retired")]
    public void FaultInsideCompiledBlockIsPrecise()
    {
        // DS = a data segment of limit 0xFFF: the 1025th "add eax, [ebx-4]" (EBX-4 = 0x1000) is
        // #GP(0), the second instruction of the block.
        var h = new CpuHarness();
        var load = default(Label);
        var stop = h.Run(a =>
        {
            var top = a.CreateLabel();
            load = a.CreateLabel();
            a.mov(ax, CpuHarness.SmallData);
            a.mov(ds, ax);
            a.xor(ebx, ebx);
            a.mov(ecx, 2000);
            a.Label(ref top);
            a.add(ebx, 4);
            a.Label(ref load);
            a.add(eax, __dword_ptr[ebx - 4]);
            a.dec(ecx);
            a.jne(top);
            a.hlt();
        }, budget: 100_000);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
        Assert.That(h.Frame(0), Is.Zero, "error code");
        Assert.That(h.Frame(1), Is.EqualTo(h.AddressOf(load)), "saved EIP: the faulting add");
        Assert.That(h.Cpu.Ecx, Is.EqualTo(2000u - 1024));
        Assert.That(h.Cpu.Retired, Is.EqualTo(4 + (1024 * 4) + 1 + 1), "setup, 1024 iterations, the add before the fault, the handler's HLT");
    }

    [TestCase(1001, false, TestName = "The instruction budget is exact in a compiled loop: it may end at a block boundary")]
    [TestCase(999, true, TestName = "The instruction budget is exact in a compiled loop: it may end inside a block")]
    public void BudgetIsExact(int budget, bool insideBlock)
    {
        // Two instructions of setup, then 3 per iteration: 1001 ends after 333 iterations, 999 after
        // 332 iterations and the add of the next.
        var h = new CpuHarness();
        var top = default(Label);
        var afterAdd = default(Label);
        var stop = h.Run(a =>
        {
            top = a.CreateLabel();
            afterAdd = a.CreateLabel();
            a.mov(ecx, 100_000);
            a.xor(eax, eax);
            a.Label(ref top);
            a.add(eax, 1);
            a.Label(ref afterAdd);
            a.dec(ecx);
            a.jne(top);
        }, budget: budget);
        Assert.That(stop, Is.EqualTo(StopReason.BudgetExhausted));
        Assert.That(h.Cpu.Retired, Is.EqualTo(budget));
        Assert.That(h.Cpu.Eax, Is.EqualTo(333u));
        Assert.That(h.Cpu.Rip, Is.EqualTo(h.AddressOf(insideBlock ? afterAdd : top)));
    }

    public static IEnumerable<TestCaseData> BackEdgeCases()
    {
        for (int cc = 0; cc < 16; cc++)
            yield return new TestCaseData(cc).SetName($"Every tier agrees on a loop closed by j{Conditions[cc]} back to its own start");
    }

    /// <summary>
    /// "top: add eax, ebx; rol ebx, 7; adc edx, eax; jcc top; hlt": a compiled block whose last
    /// instruction branches to its own first, which the compiled tier runs round in place. Each state
    /// either leaves the loop when the condition fails or ends on the budget, mid-pass or not.
    /// </summary>
    [TestCaseSource(nameof(BackEdgeCases))]
    public void TiersAgreeOnLoopBackEdge(int cc)
    {
        var random = new Random(1000 + cc);
        for (int state = 0; state < 8; state++)
        {
            uint[] regs = [.. Enumerable.Range(0, 3).Select(_ => (uint)random.NextInt64(0, 1L << 32))];
            long budget = 3000 + random.Next(4);
            string Run(ExecutionTier tier)
            {
                var h = new CpuHarness();
                h.Cpu.MaxTier = tier;
                var stop = h.Run(a =>
                {
                    var top = a.CreateLabel();
                    var jumps = new Action<Label>[]
                    {
                        a.jo, a.jno, a.jb, a.jae, a.je, a.jne, a.jbe, a.ja, a.js, a.jns, a.jp, a.jnp, a.jl, a.jge, a.jle, a.jg,
                    };
                    a.mov(eax, regs[0]);
                    a.mov(ebx, regs[1]);
                    a.mov(edx, regs[2]);
                    a.Label(ref top);
                    a.add(eax, ebx);
                    a.rol(ebx, 7);
                    a.adc(edx, eax);
                    jumps[cc](top);
                    a.hlt();
                }, budget: budget);
                var c = h.Cpu;
                return $"{stop} eip={c.Rip:x} eax={c.Eax:x} ebx={c.Ebx:x} edx={c.Edx:x} eflags={c.Eflags:x} retired={c.Retired}";
            }

            var reference = Run(ExecutionTier.Stepping);
            foreach (var tier in (ExecutionTier[])[ExecutionTier.Specialised, ExecutionTier.Compiled])
                Assert.That(Run(tier), Is.EqualTo(reference), $"{tier}, state {state}");
        }
    }

    [TestCase(10_001, false, TestName = "A loop closed by jmp to its own start retires exactly its budget: ending at the back edge")]
    [TestCase(10_000, true, TestName = "A loop closed by jmp to its own start retires exactly its budget: ending inside the pass")]
    public void JmpLoopBudgetIsExact(int budget, bool insideBlock)
    {
        // One instruction of setup, then 2 per pass (inc; jmp top): 10,001 ends after 5,000 passes,
        // 10,000 after 4,999 passes and the inc of the next.
        var h = new CpuHarness();
        var top = default(Label);
        var afterInc = default(Label);
        var stop = h.Run(a =>
        {
            top = a.CreateLabel();
            afterInc = a.CreateLabel();
            a.xor(eax, eax);
            a.Label(ref top);
            a.inc(eax);
            a.Label(ref afterInc);
            a.jmp(top);
        }, budget: budget);
        Assert.That(stop, Is.EqualTo(StopReason.BudgetExhausted));
        Assert.That(h.Cpu.Retired, Is.EqualTo(budget));
        Assert.That(h.Cpu.Eax, Is.EqualTo(5000u));
        Assert.That(h.Cpu.Rip, Is.EqualTo(h.AddressOf(insideBlock ? afterInc : top)));
    }

    /// <summary>"op; jcc skip; add ebp, 1; skip:" so the branch outcome shows in EBP.</summary>
    private static void Jcc(Assembler a, int cc, Action<Assembler> before)
    {
        before(a);
        var skip = a.CreateLabel();
        var jumps = new Action<Label>[]
        {
            a.jo, a.jno, a.jb, a.jae, a.je, a.jne, a.jbe, a.ja, a.js, a.jns, a.jp, a.jnp, a.jl, a.jge, a.jle, a.jg,
        };
        jumps[cc](skip);
        a.add(ebp, 1);
        a.Label(ref skip);
    }

    private static void CallAndReturn(Assembler a)
    {
        var function = a.CreateLabel();
        var after = a.CreateLabel();
        a.call(function);
        a.jmp(after);
        a.Label(ref function);
        a.add(eax, ecx);
        a.ret();
        a.Label(ref after);
    }

    /// <summary>
    /// Runs <paramref name="body"/> <see cref="Iterations"/> times in a loop counted in memory, from
    /// the given registers (ESP and ESI excepted: the stack, and the data pointer), data and flags.
    /// </summary>
    private static string RunLoop(ExecutionTier tier, Action<Assembler> body, uint[] regs, byte[] data, uint flags)
    {
        var h = new CpuHarness();
        h.Cpu.MaxTier = tier;
        h.WriteBytes(Data, data);
        h.WriteU32(Counter, Iterations);
        var stop = h.Run(a =>
        {
            var top = a.CreateLabel();
            a.mov(eax, regs[0]);
            a.mov(ecx, regs[1]);
            a.mov(edx, regs[2]);
            a.mov(ebx, regs[3] & 0x3F); // also an index register: keep [esi+ebx*4+4] inside the data
            a.mov(ebp, regs[5]);
            a.mov(esi, Data);
            a.mov(edi, regs[7]);
            a.push(flags | RFlags.Reserved1);
            a.popfd();
            a.Label(ref top);
            body(a);
            a.dec(__dword_ptr[Counter]);
            a.jne(top);
            a.hlt();
        }, budget: 1_000_000);
        var c = h.Cpu;
        var memory = string.Concat(Enumerable.Range(0, 64).Select(i => h.ReadU8(Data + (uint)i).ToString("x2")));
        return $"{stop} eip={c.Rip:x} eax={c.Eax:x} ecx={c.Ecx:x} edx={c.Edx:x} ebx={c.Ebx:x} esp={c.Esp:x} ebp={c.Ebp:x} "
            + $"esi={c.Esi:x} edi={c.Edi:x} eflags={c.Eflags:x} retired={c.Retired} data={memory}";
    }
}
