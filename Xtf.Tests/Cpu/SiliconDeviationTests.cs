using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Tests.Cpu.LongModeHarness;

namespace Xtf.Tests.Cpu;

/// <summary>
/// The deviations from silicon that issue 17 lists, found by running the same snippets natively
/// and on our CPU in 64-bit mode. Each expected value is what the host processor gave, and the
/// architectural rule behind it is cited.
/// </summary>
public sealed class SiliconDeviationTests
{
    /// <summary>An address above the harness's 1 GiB identity map: its PDPTE is not present.</summary>
    private const ulong Unmapped = 0x4000_0000;

    [TestCase(TestName = "SDM vol. 1, 3.4.1.1: 67 F2 A4 (REPNE MOVSB, 32-bit address size) in 64-bit mode with ECX = 0 zero-extends RCX")]
    public void AddressSize32RepWithZeroCountZeroExtendsRcx()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rcx, 0xFFFF_FFFF_0000_0000ul);
            a.db(0x67, 0xF2, 0xA4);
            a.hlt();
        });
        Assert.That(h.Cpu[X86Cpu.RCX], Is.Zero, "silicon: RCX = 0");
    }

    [TestCase(TestName = "SDM vol. 1, 3.4.1.1: 67 F3 AB (REP STOSD, 32-bit address size) faulting on its first store leaves RDI = EDI")]
    public void AddressSize32RepFaultingFirstStoreLeavesRdiZeroExtended()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rdi, 0x0000_8000_0000_0000ul | Unmapped);
            a.mov(ecx, 4);
            a.db(0x67, 0xF3, 0xAB);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.PF, 0x2);
            Assert.That(h.Cpu.Cr2, Is.EqualTo(Unmapped));
            Assert.That(h.Cpu[X86Cpu.RDI], Is.EqualTo(Unmapped), "silicon: RDI = EDI");
        });
    }

    [TestCase(TestName = "SDM vol. 2, LOOP: 67 E2 (LOOP, 32-bit address size) in 64-bit mode counts in ECX: ECX 1 -> 0 ends the loop, RCX zero-extended")]
    public void AddressSize32LoopCountsInEcx()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            var back = a.CreateLabel();
            a.Label(ref back);
            a.mov(rcx, 0x1_0000_0001ul);
            a.db(0x67, 0xE2, 0xF4); // loop (ecx) back to the MOV: taken only if ECX - 1 != 0
            a.hlt();
        });
        Assert.That(h.Cpu[X86Cpu.RCX], Is.Zero, "ECX - 1 = 0, zero-extended");
    }

    [TestCase(TestName = "SDM vol. 1, 3.4.1.1: 41 C1 C3 00 (ROL R11D, 0) in 64-bit mode zero-extends R11")]
    public void ThirtyTwoBitShiftByZeroZeroExtends()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(r11, 0xFFFF_FFFF_FFFF_FFFEul);
            a.db(0x41, 0xC1, 0xC3, 0x00);
            a.hlt();
        });
        Assert.That(h.Cpu[11], Is.EqualTo(0xFFFF_FFFEul), "silicon: R11 = 0xFFFFFFFE");
    }

    [TestCase(TestName = "Silicon (conformance --native): SHLD EBX, ECX, 0 in 64-bit mode zero-extends RBX, as shifts by 0 do")]
    public void ThirtyTwoBitDoubleShiftByZeroZeroExtends()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rbx, 0xFFFF_FFFF_FFFF_FFFEul);
            a.shld(ebx, ecx, 0);
            a.hlt();
        });
        Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo(0xFFFF_FFFEul));
    }

    [TestCase(TestName = "Silicon (conformance --native): CMPXCHG EBX, ECX failing leaves RBX untouched, bits 63:32 included, and loads EAX zero-extended")]
    public void FailedCmpxchgDoesNotWriteARegisterDestination()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rax, 0xAAAA_AAAA_0000_0001ul);
            a.mov(rbx, 0xFFFF_0000_1234_5678ul);
            a.cmpxchg(ebx, ecx);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo(0xFFFF_0000_1234_5678ul));
            Assert.That(h.Cpu[X86Cpu.RAX], Is.EqualTo(0x1234_5678ul));
            Assert.That(h.Cpu.Eflags & RFlags.ZF, Is.Zero);
        });
    }

    [TestCase(TestName = "SDM vol. 3, 2.5 and 11.8.6.5: MOV to and from CR8 in 64-bit mode is the TPR; bits 63:4 are reserved")]
    public void Cr8IsTheTaskPriorityRegister()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(eax, 0xB);
            a.mov(cr8, rax);
            a.mov(rbx, cr8);
            a.mov(eax, 0x10);
            a.mov(cr8, rax); // a reserved bit: #GP(0)
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.GP, 0);
            Assert.That(h.Cpu[X86Cpu.RBX], Is.EqualTo(0xBul));
            Assert.That(h.Cpu.Cr8, Is.EqualTo(0xBul), "the faulting write changed nothing");
        });
    }

    [TestCase(TestName = "SDM vol. 2, MOV CR: MOV from CR8 at CPL 3 is #GP(0)")]
    public void Cr8AtCpl3IsGp()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a => EnterUser(a), user: a =>
        {
            a.mov(rax, cr8);
            a.hlt();
        });
        h.AssertFault(X86Vector.GP, 0);
    }

    [TestCase(TestName = "SDM vol. 3, 4.7: ADD QWORD [RAX], -1 crossing into a not-present page is #PF with W = 1 (the read of a read-modify-write)")]
    public void ReadModifyWriteCrossingIntoANotPresentPageReportsAWrite()
    {
        var h = new LongModeHarness();
        h.RunToHalt(a =>
        {
            a.mov(rax, Unmapped - 4);
            a.add(__qword_ptr[rax], -1);
            a.hlt();
        });
        Assert.Multiple(() =>
        {
            h.AssertFault(X86Vector.PF, 0x2);
            Assert.That(h.Cpu.Cr2, Is.EqualTo(Unmapped));
        });
    }
}
