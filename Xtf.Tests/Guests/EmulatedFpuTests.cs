using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Emulation;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The emulator's own FPU checks (Xen's x86emul_get_fpu): which instructions ask for which FPU
/// type, and that the instruction then runs on the host's CR0 while the guest's CR0 stays what the
/// guest wrote.
/// </summary>
[TestFixture]
public sealed class EmulatedFpuTests
{
    /// <summary>
    /// The get_fpu type x86_emulate asks for each encoding (xen/arch/x86/x86_emulate): WAIT is
    /// X86EMUL_FPU_wait (9B, 3ab81e0110); x87 escapes and FXSAVE (0fae.c) X86EMUL_FPU_fpu; MMX
    /// register forms and EMMS X86EMUL_FPU_mmx; XMM forms, LDMXCSR and CVTPI2PS (SDM vol. 2,
    /// exception class 22: an SSE instruction with an MMX source) X86EMUL_FPU_xmm; prefetch,
    /// SFENCE, MOVNTI and ADD touch no FPU state and ask for none.
    /// </summary>
    [TestCase(new byte[] { 0x9B }, "Wait", TestName = "wait")]
    [TestCase(new byte[] { 0xD9, 0xD0 }, "Fpu", TestName = "fnop")]
    [TestCase(new byte[] { 0xDB, 0xE3 }, "Fpu", TestName = "fninit")]
    [TestCase(new byte[] { 0x0F, 0xAE, 0x00 }, "Fpu", TestName = "fxsave")]
    [TestCase(new byte[] { 0x0F, 0x6F, 0xC0 }, "Mmx", TestName = "movq mm0,mm0")]
    [TestCase(new byte[] { 0x0F, 0x77 }, "Mmx", TestName = "emms")]
    [TestCase(new byte[] { 0x0F, 0x70, 0xC1, 0x1B }, "Mmx", TestName = "pshufw mm0,mm1")]
    [TestCase(new byte[] { 0x0F, 0x10, 0xC0 }, "Xmm", TestName = "movups xmm0,xmm0")]
    [TestCase(new byte[] { 0x0F, 0x2A, 0xC1 }, "Xmm", TestName = "cvtpi2ps xmm0,mm1")]
    [TestCase(new byte[] { 0x0F, 0xAE, 0x10 }, "Xmm", TestName = "ldmxcsr")]
    [TestCase(new byte[] { 0x0F, 0x18, 0x08 }, "None", TestName = "prefetcht0")]
    [TestCase(new byte[] { 0x0F, 0xAE, 0xF8 }, "None", TestName = "sfence")]
    [TestCase(new byte[] { 0x0F, 0xC3, 0x00 }, "None", TestName = "movnti")]
    [TestCase(new byte[] { 0x01, 0xC0 }, "None", TestName = "add")]
    public void GetFpuTypeIsX86EmulatesForTheEncoding(byte[] code, string expected)
    {
        var decoder = Decoder.Create(32, new ByteArrayCodeReader(code));
        decoder.Decode(out var insn);
        Assert.That(FpuInstructions.Classify(in insn).ToString(), Is.EqualTo(expected), insn.ToString());
    }

    /// <summary>
    /// Under xsa-190 an emulated FNOP with CR0.TS set runs (no #NM: no check before 3ab81e0110),
    /// yet the guest reads back the CR0 it wrote, TS included: the stub ran on the host's CR0, not
    /// on a changed guest CR0. Natively, and through the fixed emulator, the same FNOP is #NM
    /// (SDM vol. 3, 2.5 table 2-2).
    /// </summary>
    public sealed class TsGuest : TestCase
    {
        public override void Main()
        {
            var native = Exec(a =>
            {
                a.mov(eax, cr0);
                a.or(eax, (int)Cr0.TS);
                a.mov(cr0, eax);
                a.fnop();
            });
            var emulated = Exec(a =>
            {
                a.Fep();
                a.fnop();
            });
            var cr = ExecDetailed(a => a.mov(eax, cr0));
            Exec(a => a.clts());
            Printk($"native {native} emulated {emulated} ts {((cr.Eax & Cr0.TS) != 0 ? 1 : 0)}\n");
            Success();
        }
    }

    [Test]
    public void EmulatedFnopUnderXsa190RunsWithTheHostsCr0AndLeavesTheGuestsTs()
    {
        var fixedRun = GuestHarness.Run<TsGuest>();
        var quirkRun = GuestHarness.Run<TsGuest>(settings: new RunSettings { Quirks = new HashSet<Quirk> { Quirk.Xsa190 } });
        Assert.Multiple(() =>
        {
            Assert.That(fixedRun.ConsoleLog, Does.Contain("native #NM emulated #NM ts 1"), fixedRun.Diagnostic);
            Assert.That(quirkRun.ConsoleLog, Does.Contain("native #NM emulated nothing ts 1"), quirkRun.Diagnostic);
        });
    }
}
