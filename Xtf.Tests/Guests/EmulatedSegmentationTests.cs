using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The emulator's segmentation (its MOV and POP Sreg, behind the forced emulation prefix) against
/// the processor's: each probe runs natively and emulated and logs both outcomes as
/// <c>probe NAME: native X emulated Y</c>. Expected outcomes come from SDM vol. 3, 5.3 and 5.4 and
/// vol. 2, MOV and POP; with a quirk on, only the emulated outcome changes.
/// </summary>
[TestFixture]
public sealed class EmulatedSegmentationTests
{
    private const int Avail = HvmLayout.GdteAvail0;
    private const ushort ExpandDown = Avail << 3, ReadOnly = (Avail + 1) << 3, NotPresent = (Avail + 2) << 3;

    /// <summary>A guest that runs probes: each natively, then behind the prefix, and logs both outcomes.</summary>
    public abstract class ProbeGuest : TestCase
    {
        protected void Probe(Func<Action<Assembler>, ExInfo> exec, Action<Assembler> reset, string name, Action<Assembler> setup, Action<Assembler> insn)
        {
            var outcome = new ExInfo[2];
            foreach (bool fep in new[] { false, true })
            {
                outcome[fep ? 1 : 0] = exec(a =>
                {
                    setup(a);
                    if (fep)
                        a.Fep();
                    insn(a);
                });
                Exec(reset);
            }

            Printk($"probe {name}: native {outcome[0]} emulated {outcome[1]}\n");
        }
    }

    /// <summary>32-bit protected mode at CPL 0 (hvm32, no paging).</summary>
    public sealed class Protected32Guest : ProbeGuest
    {
        public override void Main()
        {
            // Expand-down writable data, B set, byte-granular limit 0xFFF: valid offsets 0x1000-0xFFFFFFFF.
            SetGdtEntry(Avail, SegmentDescriptor.CodeOrData(0x7, 0, 0xFFF, dpl: 0, big: true));
            SetGdtEntry(Avail + 1, SegmentDescriptor.CodeOrData(0x1, 0, 0xFFFFF, dpl: 0, granular: true));
            SetGdtEntry(Avail + 2, SegmentDescriptor.CodeOrData(0x3, 0, 0xFFFFF, dpl: 0, granular: true, present: false));
            Action<Assembler> reset = a =>
            {
                a.mov(eax, (uint)HvmLayout.UserDs);
                a.mov(ds, ax);
                a.mov(es, ax);
                a.mov(fs, ax);
            };
            Func<Action<Assembler>, ExInfo> exec = Exec;
            void P(string name, Action<Assembler> setup, Action<Assembler> insn) => Probe(exec, reset, name, setup, insn);

            Action<Assembler> loadNullFs = a => { a.xor(eax, eax); a.mov(fs, ax); };
            P("null-fs-read", loadNullFs, a => a.mov(eax, __dword_ptr.fs[0]));
            P("null-fs-write", loadNullFs, a => a.mov(__dword_ptr.fs[0], ecx));

            Action<Assembler> loadExpandDown = a => { a.mov(eax, ExpandDown); a.mov(es, ax); };
            P("expand-down-below", loadExpandDown, a => a.mov(eax, __dword_ptr.es[0xFFC]));
            P("expand-down-above", loadExpandDown, a => a.mov(eax, __dword_ptr.es[0x1000]));
            P("expand-down-top", loadExpandDown, a => a.mov(eax, __dword_ptr.es[0xFFFFFFFE]));

            Action<Assembler> loadReadOnly = a => { a.mov(eax, ReadOnly); a.mov(es, ax); };
            P("read-only-write", loadReadOnly, a => a.mov(__dword_ptr.es[0x1000], 0));
            P("read-only-read", loadReadOnly, a => a.mov(eax, __dword_ptr.es[0x1000]));
            P("code-write", _ => { }, a => a.mov(__dword_ptr.cs[0x1000], ecx));

            P("mov-ds-not-present", a => a.mov(eax, NotPresent), a => a.mov(ds, ax));
            P("mov-ds-tss", a => a.mov(eax, HvmLayout.TssSelector), a => a.mov(ds, ax));
            P("mov-ss-null", a => a.xor(eax, eax), a => a.mov(ss, ax));
            P("pop-ds-tss", a => a.push(HvmLayout.TssSelector), a => a.pop(ds));
            P("pop-es-read-only", a => a.push(ReadOnly), a => a.pop(es));

            var r = ExecDetailed(a =>
            {
                a.mov(ecx, 0x1234);
                a.xor(edx, edx);
                a.Fep();
                a.db(0x2E);
                a.mov(edx, ecx);
            });
            Printk($"probe cs-mov-reg: edx {r.Edx:x}\n");

            // cs:mov %ecx, %eax in the load form (8B C1: EAX <- r/m ECX), with ECX 0.
            r = ExecDetailed(a =>
            {
                a.xor(ecx, ecx);
                a.xor(eax, eax);
                a.Fep();
                a.db(0x2E, 0x8B, 0xC1);
            });
            Printk($"probe cs-mov-load: eax {r.Eax:x}\n");
            Success();
        }
    }

    /// <summary>64-bit mode (hvm64): canonical checks, and MOV SS with a null selector at CPL 0 and 3.</summary>
    public sealed class LongModeGuest : ProbeGuest
    {
        public override void Main()
        {
            Func<Action<Assembler>, ExInfo> exec = Exec;
            Func<Action<Assembler>, ExInfo> user = ExecUser;
            Action<Assembler> reset = a =>
            {
                a.mov(eax, (uint)HvmLayout.KernelDs);
                a.mov(ss, ax);
            };
            void P(string name, Action<Assembler> setup, Action<Assembler> insn) => Probe(exec, reset, name, setup, insn);

            P("noncanonical-rbp", a => a.mov(rbp, 0x8000000000000000ul), a => a.mov(eax, __dword_ptr[rbp]));
            P("noncanonical-rax", a => a.mov(rax, 0x8000000000000000ul), a => a.mov(__dword_ptr[rax], ecx));
            P("noncanonical-ds-rbp", a => a.mov(rbp, 0x8000000000000000ul), a => a.mov(eax, __dword_ptr.ds[rbp]));
            P("noncanonical-straddle", a => a.mov(rax, 0x00007FFFFFFFFFFEul), a => a.mov(ecx, __dword_ptr[rax]));
            P("mov-ss-null-cpl0", a => a.xor(eax, eax), a => a.mov(ss, ax));
            Probe(user, reset, "mov-ss-null-cpl3", a => a.mov(eax, 3), a => a.mov(ss, ax));
            Success();
        }
    }

    private static InstanceOutcome Run<T>(Environments env, params Quirk[] quirks)
        where T : TestCase, new() =>
        GuestHarness.Run<T>(env: env, settings: new RunSettings { Quirks = quirks.ToHashSet() });

    private static void AssertProbe(InstanceOutcome o, string name, string native, string emulated)
    {
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Does.Contain($"probe {name}: native {native} emulated {emulated}\r\n"), o.ConsoleLog);
    }

    /// <summary>
    /// SDM vol. 3, 5.4.1: a memory reference through a data segment register loaded with null is
    /// #GP(0), for reads and writes alike.
    /// </summary>
    [TestCase("null-fs-read")]
    [TestCase("null-fs-write")]
    public void AccessThroughANullFsIsGp0(string probe) =>
        AssertProbe(Run<Protected32Guest>(Environments.Hvm32), probe, "#GP[0000]", "#GP[0000]");

    /// <summary>XSA-191 re-created: the emulator uses the null FS as a flat segment (no fault); the processor still faults.</summary>
    [Test]
    public void WithXsa191TheEmulatorUsesANullFs() =>
        AssertProbe(Run<Protected32Guest>(Environments.Hvm32, Quirk.Xsa191), "null-fs-read", "#GP[0000]", "nothing");

    /// <summary>
    /// SDM vol. 3, 5.3: an expand-down segment with limit 0xFFF and B set allows offsets 0x1000 to
    /// 0xFFFFFFFF: a dword at 0xFFC (offset &lt;= limit) is #GP(0), at 0x1000 it is valid, and at
    /// 0xFFFFFFFE its last byte (0x100000001) is past 0xFFFFFFFF, #GP(0).
    /// </summary>
    [TestCase("expand-down-below", "#GP[0000]")]
    [TestCase("expand-down-above", "nothing")]
    [TestCase("expand-down-top", "#GP[0000]")]
    public void ExpandDownLimits(string probe, string expected) =>
        AssertProbe(Run<Protected32Guest>(Environments.Hvm32), probe, expected, expected);

    /// <summary>SDM vol. 3, 5.4.1: a write to a read-only data segment or through CS (code) is #GP(0); a read of read-only data is valid.</summary>
    [TestCase("read-only-write", "#GP[0000]")]
    [TestCase("read-only-read", "nothing")]
    [TestCase("code-write", "#GP[0000]")]
    public void SegmentTypes(string probe, string expected) =>
        AssertProbe(Run<Protected32Guest>(Environments.Hvm32), probe, expected, expected);

    /// <summary>
    /// SDM vol. 2, MOV and POP: a not-present data segment is #NP(selector) (GDT slot 11 = 0x58); a
    /// system descriptor (the TSS, slot 7 = 0x38) in DS is #GP(selector); a
    /// null SS outside 64-bit mode is #GP(0). POP ES of read-only data is valid (ES needs only a readable segment).
    /// </summary>
    [TestCase("mov-ds-not-present", "#NP[GDT[11]]")]
    [TestCase("mov-ds-tss", "#GP[GDT[7]]")]
    [TestCase("mov-ss-null", "#GP[0000]")]
    [TestCase("pop-ds-tss", "#GP[GDT[7]]")]
    [TestCase("pop-es-read-only", "nothing")]
    public void SegmentRegisterLoads(string probe, string expected) =>
        AssertProbe(Run<Protected32Guest>(Environments.Hvm32), probe, expected, expected);

    /// <summary>
    /// A segment override on a register operand has no effect (SDM vol. 1, 3.7.4: it selects the
    /// segment of a memory operand): cs:mov %ecx, %edx copies 0x1234, and the load form
    /// cs:mov %ecx, %eax then copies ECX's 0. With XSA-123 (Xen e38350a3a0) the store went through
    /// the register pointer whose low half x86_seg_cs (0) overwrote, into hypervisor memory, so EDX
    /// stays 0, and the load reads that same hypervisor memory back: EAX is the 0x1234 stored
    /// there, not the guest's ECX.
    /// </summary>
    [TestCase(false, "cs-mov-reg: edx 1234", "cs-mov-load: eax 0")]
    [TestCase(true, "cs-mov-reg: edx 0", "cs-mov-load: eax 1234")]
    public void SegmentOverrideOnARegisterOperand(bool quirk, string store, string load)
    {
        var o = quirk ? Run<Protected32Guest>(Environments.Hvm32, Quirk.Xsa123) : Run<Protected32Guest>(Environments.Hvm32);
        Assert.That(o.ConsoleLog, Does.Contain($"probe {store}\r\n").And.Contain($"probe {load}\r\n"), o.ConsoleLog);
    }

    /// <summary>
    /// SDM vol. 3, 3.3.7.1 and 6.15: in 64-bit mode a non-canonical address through SS (an RBP base,
    /// whatever a DS override says) is #SS(0), through DS #GP(0); a dword at 0x7FFFFFFFFFFE ends
    /// at 0x800000000001, non-canonical, #GP(0).
    /// </summary>
    [TestCase("noncanonical-rbp", "#SS[0000]")]
    [TestCase("noncanonical-ds-rbp", "#SS[0000]")]
    [TestCase("noncanonical-rax", "#GP[0000]")]
    [TestCase("noncanonical-straddle", "#GP[0000]")]
    public void NonCanonicalAddresses(string probe, string expected) =>
        AssertProbe(Run<LongModeGuest>(Environments.Hvm64), probe, expected, expected);

    /// <summary>SDM vol. 2, MOV: in 64-bit mode a null SS loads at CPL 0 with RPL 0, and is #GP(0) at CPL 3.</summary>
    [TestCase("mov-ss-null-cpl0", "nothing")]
    [TestCase("mov-ss-null-cpl3", "#GP[0000]")]
    public void NullStackSegmentIn64BitMode(string probe, string expected) =>
        AssertProbe(Run<LongModeGuest>(Environments.Hvm64), probe, expected, expected);

    /// <summary>
    /// Without FEP: xsa-123 and xsa-191 need it (XTF's test_needs_fep) and SKIP; null-ss runs
    /// its native checks, then SKIPs with XTF's message; memop-seg runs natively only, as upstream.
    /// </summary>
    [TestCase("xsa-123", Environments.Hvm32, TestResult.Skip)]
    [TestCase("xsa-191", Environments.Hvm32, TestResult.Skip)]
    [TestCase("null-ss", Environments.Hvm64, TestResult.Skip)]
    [TestCase("memop-seg", Environments.Hvm64, TestResult.Success)]
    public void TestCasesWithoutFep(string name, Environments env, TestResult expected)
    {
        var catalog = new TestCatalog([typeof(Xtf.TestCases.TestCasesAssembly).Assembly]);
        var test = catalog.Find(name) ?? throw new AssertionException($"{name} not in the catalog");
        var o = new TestEngine().Run(new TestInstance(test, env, null), new RunSettings { Fep = false });
        Assert.That(o.Result, Is.EqualTo(expected), o.ConsoleLog + o.Diagnostic);
        if (name == "null-ss")
            Assert.That(o.ConsoleLog, Does.Contain("FEP support not detected - some tests will be skipped\r\n"));
    }
}
