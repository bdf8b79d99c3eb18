using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// MUL, IMUL, DIV, IDIV (SDM vol. 2). Only CF and OF are defined after a multiply, and no flag after
/// a divide, so only those are compared. #DE is a fault: the saved EIP is the dividing instruction.
/// </summary>
[TestFixture]
public sealed class MulDivTests
{
    /// <summary>Runs body (after eax/ebx/edx are loaded) and returns the machine; CF and OF start set.</summary>
    private static CpuHarness Run(uint eaxValue, uint ebxValue, uint edxValue, Action<Assembler> body)
    {
        var h = new CpuHarness();
        h.Run(a =>
        {
            a.mov(eax, eaxValue);
            a.mov(ebx, ebxValue);
            a.mov(edx, edxValue);
            body(a);
            a.hlt();
        }, eflags: CF | OF);
        return h;
    }

    private static string CfOf(CpuHarness h) => ArithmeticFlagsTests.FlagNames(h.Cpu.Eflags & (CF | OF));

    [TestCase(0x80u, 2u, 0x0100u, true, TestName = "MUL r8: AL 0x80 * 2 = AX 0x0100; AH != 0 sets CF and OF")]
    [TestCase(0x10u, 0x0Fu, 0x00F0u, false, TestName = "MUL r8: AL 0x10 * 0x0F = AX 0x00F0; AH = 0 clears CF and OF")]
    public void Mul8(uint al8, uint bl8, uint expectedAx, bool upperHalf)
    {
        var h = Run(0xDEAD0000u | al8, bl8, 0x5555u, a => a.mul(bl));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xDEAD0000u | expectedAx), "AX replaced, upper EAX kept");
            Assert.That(h.Cpu.Edx, Is.EqualTo(0x5555u), "8-bit MUL does not touch DX");
            Assert.That(CfOf(h), Is.EqualTo(upperHalf ? "CF OF" : "-"));
        });
    }

    [TestCase(TestName = "MUL r32: 0xFFFFFFFF * 0xFFFFFFFF = 0xFFFFFFFE_00000001 in EDX:EAX, CF = OF = 1")]
    public void Mul32()
    {
        var h = Run(0xFFFFFFFFu, 0xFFFFFFFFu, 0, a => a.mul(ebx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Edx, Is.EqualTo(0xFFFFFFFEu));
            Assert.That(h.Cpu.Eax, Is.EqualTo(1u));
            Assert.That(CfOf(h), Is.EqualTo("CF OF"));
        });
    }

    [TestCase(TestName = "MUL r16: 0x1234 * 0x0100 = 0x00123400 in DX:AX, CF = OF = 1 since DX != 0")]
    public void Mul16()
    {
        var h = Run(0xAAAA1234u, 0x0100u, 0xBBBB0000u, a => a.mul(bx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Edx, Is.EqualTo(0xBBBB0012u));
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xAAAA3400u));
            Assert.That(CfOf(h), Is.EqualTo("CF OF"));
        });
    }

    // One-operand IMUL: CF = OF = 1 unless the upper half is the sign extension of the lower half.
    [TestCase(0xFFu, 0x01u, 0xFFFFu, false, TestName = "IMUL r8: -1 * 1 = AX 0xFFFF; AH is the sign extension of AL, CF = OF = 0")]
    [TestCase(0x40u, 0x02u, 0x0080u, true, TestName = "IMUL r8: 64 * 2 = 128 = AX 0x0080 does not fit AL, CF = OF = 1")]
    [TestCase(0x80u, 0xFFu, 0x0080u, true, TestName = "IMUL r8: -128 * -1 = +128 = AX 0x0080, CF = OF = 1")]
    public void Imul8(uint al8, uint bl8, uint expectedAx, bool overflow)
    {
        var h = Run(al8, bl8, 0, a => a.imul(bl));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax & 0xFFFF, Is.EqualTo(expectedAx));
            Assert.That(CfOf(h), Is.EqualTo(overflow ? "CF OF" : "-"));
        });
    }

    [TestCase(TestName = "IMUL r32 (one operand): 0x80000000 * -1 = +2^31, EDX:EAX = 0:0x80000000, CF = OF = 1")]
    public void Imul32OneOperand()
    {
        var h = Run(0x80000000u, 0xFFFFFFFFu, 0x1234u, a => a.imul(ebx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Edx, Is.EqualTo(0u));
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x80000000u));
            Assert.That(CfOf(h), Is.EqualTo("CF OF"));
        });
    }

    [TestCase(TestName = "IMUL r32, r/m32: -2 * 3 = -6 (0xFFFFFFFA) fits, CF = OF = 0, EDX untouched")]
    public void ImulTwoOperandFits()
    {
        var h = Run(0xFFFFFFFEu, 3u, 0x1234u, a => a.imul(eax, ebx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xFFFFFFFAu));
            Assert.That(h.Cpu.Edx, Is.EqualTo(0x1234u));
            Assert.That(CfOf(h), Is.EqualTo("-"));
        });
    }

    [TestCase(TestName = "IMUL r16, r/m16: 0x4000 * 2 = 32768 truncates to 0x8000 (-32768), CF = OF = 1")]
    public void ImulTwoOperandTruncates()
    {
        var h = Run(0x4000u, 2u, 0, a => a.imul(ax, bx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x8000u));
            Assert.That(CfOf(h), Is.EqualTo("CF OF"));
        });
    }

    [TestCase(0x80000000u, -1, 0x80000000u, true, TestName = "IMUL r32, r/m32, imm8: 0x80000000 * -1 = +2^31 truncates to 0x80000000, CF = OF = 1")]
    [TestCase(5u, -2, 0xFFFFFFF6u, false, TestName = "IMUL r32, r/m32, imm8: the immediate is sign-extended, 5 * -2 = -10, CF = OF = 0")]
    public void ImulThreeOperand(uint src, int imm, uint expected, bool overflow)
    {
        var h = Run(0, src, 0, a => a.imul(eax, ebx, imm));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(expected));
            Assert.That(CfOf(h), Is.EqualTo(overflow ? "CF OF" : "-"));
        });
    }

    [TestCase(TestName = "DIV r8: AX 263 / 16 = 16 remainder 7: AL = 0x10, AH = 0x07")]
    public void Div8()
    {
        var h = Run(0x0107u, 0x10u, 0, a => a.div(bl));
        Assert.That(h.Cpu.Eax & 0xFFFF, Is.EqualTo(0x0710u));
    }

    [TestCase(TestName = "DIV r32: EDX:EAX 0x1_00000000 / 0x10 = 0x10000000 remainder 0")]
    public void Div32()
    {
        var h = Run(0u, 0x10u, 1u, a => a.div(ebx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x10000000u));
            Assert.That(h.Cpu.Edx, Is.EqualTo(0u));
        });
    }

    [TestCase(TestName = "IDIV r32: -7 / 2 truncates toward zero: quotient -3, remainder -1 (sign of the dividend)")]
    public void Idiv32TruncatesTowardZero()
    {
        var h = Run(0xFFFFFFF9u, 2u, 0xFFFFFFFFu, a => a.idiv(ebx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax, Is.EqualTo(0xFFFFFFFDu));
            Assert.That(h.Cpu.Edx, Is.EqualTo(0xFFFFFFFFu));
        });
    }

    [TestCase(0xFFF9u, 2u, 0xFFFDu, TestName = "IDIV r8: AX -7 / 2 = AL -3 (0xFD), AH -1 (0xFF)")]
    [TestCase(0x0080u, 0xFFu, 0x0080u, TestName = "IDIV r8: AX 128 / -1 = -128 is the most negative quotient that fits: AL 0x80, AH 0")]
    public void Idiv8(uint ax16, uint bl8, uint expectedAx)
    {
        var h = Run(ax16, bl8, 0, a => a.idiv(bl));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.Null, "no #DE");
            Assert.That(h.Cpu.Eax & 0xFFFF, Is.EqualTo(expectedAx));
        });
    }

    [TestCase(TestName = "IDIV r16: DX:AX 7 / -2 = quotient -3 (0xFFFD), remainder +1")]
    public void Idiv16()
    {
        var h = Run(7u, 0xFFFEu, 0u, a => a.idiv(bx));
        Assert.Multiple(() =>
        {
            Assert.That(h.Cpu.Eax & 0xFFFF, Is.EqualTo(0xFFFDu));
            Assert.That(h.Cpu.Edx & 0xFFFF, Is.EqualTo(1u));
        });
    }

    /// <summary>A dividing instruction at a label, then HLT; returns the machine halted in the #DE handler (or not).</summary>
    private static (CpuHarness H, uint FaultingEip) RunDivide(uint eaxValue, uint edxValue, uint ecxValue, Action<Assembler> divide)
    {
        var h = new CpuHarness();
        var at = default(Label);
        h.Run(a =>
        {
            a.mov(eax, eaxValue);
            a.mov(edx, edxValue);
            a.mov(ecx, ecxValue);
            at = a.CreateLabel();
            a.Label(ref at);
            divide(a);
            a.hlt();
        }, eflags: CF);
        return (h, h.AddressOf(at));
    }

    [TestCase("div r32 by 0", 0x1234u, 0x5u, 0u, TestName = "DIV r32 by 0 raises #DE")]
    [TestCase("div r8 quotient 0x100", 0x1000u, 0u, 0x10u, TestName = "DIV r8: AX 0x1000 / 0x10 = 0x100 does not fit AL: #DE")]
    [TestCase("div r32 quotient 2^32", 0u, 1u, 1u, TestName = "DIV r32: EDX:EAX 2^32 / 1 does not fit EAX: #DE")]
    [TestCase("idiv r32 most negative / -1", 0x80000000u, 0xFFFFFFFFu, 0xFFFFFFFFu, TestName = "IDIV r32: -2^31 / -1 = +2^31 does not fit EAX: #DE")]
    [TestCase("idiv r8 most negative / -1", 0xFF80u, 0u, 0xFFu, TestName = "IDIV r8: AX -128 / -1 = +128 does not fit AL: #DE")]
    [TestCase("idiv r16 by 0", 1u, 0u, 0u, TestName = "IDIV r16 by 0 raises #DE")]
    public void DivideErrorIsAFaultDeliveredThroughTheIdt(string form, uint eaxValue, uint edxValue, uint ecxValue)
    {
        var (h, eip) = RunDivide(eaxValue, edxValue, ecxValue, a =>
        {
            switch (form)
            {
                case "div r32 by 0": a.div(ecx); break;
                case "div r8 quotient 0x100": a.div(cl); break;
                case "div r32 quotient 2^32": a.div(ecx); break;
                case "idiv r32 most negative / -1": a.idiv(ecx); break;
                case "idiv r8 most negative / -1": a.idiv(cl); break;
                default: a.idiv(cx); break;
            }
        });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DE), "vector");
            // #DE pushes no error code: EIP, CS, EFLAGS (SDM vol. 3, 6.12.1, figure 6-4).
            Assert.That(h.Frame(0), Is.EqualTo(eip), "saved EIP points at the faulting divide");
            Assert.That(h.Frame(1), Is.EqualTo((uint)CpuHarness.KernelCode), "saved CS");
            // SDM vol. 3, 18.3.1.1: the EFLAGS image of a fault-class exception has RF set.
            Assert.That(h.Frame(2), Is.EqualTo(Reserved1 | CF | RF), "saved EFLAGS");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.KernelStackTop - 12), "three dwords pushed");
            Assert.That((h.Cpu.Eax, h.Cpu.Edx), Is.EqualTo((eaxValue, edxValue)), "faults are precise: nothing written");
        });
    }

    [TestCase(TestName = "AAM with imm8 = 0 raises #DE, saved EIP at the AAM")]
    public void AamByZeroRaisesDivideError()
    {
        var (h, eip) = RunDivide(0x0042u, 0, 0, a => a.aam(0));
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.DE));
            Assert.That(h.Frame(0), Is.EqualTo(eip));
            Assert.That(h.Cpu.Eax, Is.EqualTo(0x0042u));
        });
    }
}
