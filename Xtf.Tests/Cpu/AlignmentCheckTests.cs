using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Alignment check, #AC(0) (SDM vol. 3, 6.15 interrupt 17; 2.5 CR0.AM; table 6-7): a misaligned
/// data access made by an instruction at CPL 3 with CR0.AM and EFLAGS.AC both set. The kernel sets
/// CR0.AM as asked, then enters user code with IRETD; #AC switches to the ring-0 stack and pushes
/// error code 0, EIP, CS, EFLAGS, ESP, SS.
/// </summary>
[TestFixture]
public sealed class AlignmentCheckTests
{
    private const uint Data = CpuHarness.DataBase;

    private static CpuHarness RunUser(Action<Assembler> user, bool am = true, bool ac = true, uint stackPointer = CpuHarness.UserStackTop,
        Action<Assembler>? prelude = null)
    {
        var h = new CpuHarness();
        var stop = h.Run(
            a =>
            {
                if (am)
                {
                    a.mov(eax, cr0);
                    a.or(eax, (int)Cr0.AM);
                    a.mov(cr0, eax);
                }

                prelude?.Invoke(a);
                CpuHarness.EnterUser(a, Reserved1 | (ac ? AC : 0), stackPointer: stackPointer);
            },
            user);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return h;
    }

    private static void AssertAlignmentFault(CpuHarness h, uint eip = CpuHarness.UserCodeBase)
    {
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.AC), "vector 17");
            Assert.That(h.Cpu.Esp, Is.EqualTo(CpuHarness.Ring0StackTop - 24), "error code, EIP, CS, EFLAGS, ESP, SS");
            Assert.That(h.Frame(0), Is.EqualTo(0u), "error code 0");
            Assert.That(h.Frame(1), Is.EqualTo(eip), "saved EIP = the misaligned access (a fault)");
            Assert.That(h.Frame(3) & (AC | RF), Is.EqualTo(AC | RF), "saved EFLAGS: AC, and RF as for any fault");
        });
    }

    private static void AssertNoFault(CpuHarness h) =>
        Assert.That(h.Vector, Is.EqualTo(CpuHarness.ExitVector), "user code ran to INT 0x81");

    [TestCase("dword +1", TestName = "#AC(0): dword read at an address = 1 mod 4 at CPL 3 with AM and AC")]
    [TestCase("dword +2", TestName = "#AC(0): dword read at an address = 2 mod 4 (dwords need 4-byte alignment)")]
    [TestCase("word write +1", TestName = "#AC(0): word write at an odd address")]
    [TestCase("add mem +1", TestName = "#AC(0): read-modify-write ADD to a misaligned dword, memory unchanged")]
    [TestCase("movsd", TestName = "#AC(0): MOVSD with a misaligned source")]
    [TestCase("push", TestName = "#AC(0): PUSH with ESP = 3 mod 4 (the stack is data too)")]
    public void MisalignedAccessAtCpl3Faults(string form)
    {
        var h = RunUser(
            a =>
            {
                switch (form)
                {
                    case "dword +1": a.mov(eax, __dword_ptr[Data + 1]); break;
                    case "dword +2": a.mov(eax, __dword_ptr[Data + 2]); break;
                    case "word write +1": a.mov(__word_ptr[Data + 1], ax); break;
                    case "add mem +1": a.add(__dword_ptr[Data + 1], 1); break;
                    case "movsd": a.movsd(); break; // ESI = Data + 1, EDI = Data + 0x100 from the kernel
                    default: a.push(eax); break;
                }

                a.@int(CpuHarness.ExitVector);
            },
            stackPointer: form == "push" ? CpuHarness.UserStackTop - 1 : CpuHarness.UserStackTop,
            prelude: a =>
            {
                a.mov(esi, Data + 1);
                a.mov(edi, Data + 0x100);
            });
        AssertAlignmentFault(h);
        Assert.Multiple(() =>
        {
            Assert.That(h.ReadU32(Data + 1), Is.EqualTo(0u), "nothing written");
            Assert.That(h.ReadU32(Data + 0x100), Is.EqualTo(0u), "nothing written");
        });
    }

    [TestCase("byte", TestName = "No #AC for a byte access at any address")]
    [TestCase("word +2", TestName = "No #AC for a word at an even address")]
    [TestCase("dword +4", TestName = "No #AC for a dword at an address = 0 mod 4")]
    public void AlignedAccessAtCpl3DoesNotFault(string form)
    {
        var h = RunUser(a =>
        {
            switch (form)
            {
                case "byte": a.mov(al, __byte_ptr[Data + 3]); break;
                case "word +2": a.mov(ax, __word_ptr[Data + 2]); break;
                default: a.mov(eax, __dword_ptr[Data + 4]); break;
            }

            a.@int(CpuHarness.ExitVector);
        });
        AssertNoFault(h);
    }

    [TestCase(false, true, TestName = "No #AC with CR0.AM clear (EFLAGS.AC set) at CPL 3")]
    [TestCase(true, false, TestName = "No #AC with EFLAGS.AC clear (CR0.AM set) at CPL 3")]
    public void AlignmentCheckNeedsBothEnables(bool am, bool ac)
    {
        var h = RunUser(
            a =>
            {
                a.mov(eax, __dword_ptr[Data + 1]);
                a.@int(CpuHarness.ExitVector);
            },
            am,
            ac);
        AssertNoFault(h);
    }

    [TestCase(TestName = "No #AC at CPL 0, even with CR0.AM and EFLAGS.AC set")]
    public void NoAlignmentCheckAtCpl0()
    {
        var h = new CpuHarness();
        h.Run(
            a =>
            {
                a.mov(eax, cr0);
                a.or(eax, (int)Cr0.AM);
                a.mov(cr0, eax);
                a.mov(eax, __dword_ptr[Data + 1]);
                a.hlt();
            },
            eflags: AC);
        Assert.That(h.Vector, Is.Null, "halted in the kernel code without a fault");
    }

    [TestCase(TestName = "Implicit supervisor accesses are not checked: INT 0x81 from CPL 3 with ESP = 3 mod 4 saves SS:ESP on the ring-0 stack without #AC")]
    public void InterruptFromMisalignedUserStackDoesNotFault()
    {
        var h = RunUser(a => a.@int(CpuHarness.ExitVector), stackPointer: CpuHarness.UserStackTop - 1);
        Assert.Multiple(() =>
        {
            AssertNoFault(h);
            Assert.That(h.Frame(3), Is.EqualTo(CpuHarness.UserStackTop - 1), "saved ESP");
        });
    }

    [TestCase(TestName = "#GP before #AC: a misaligned dword read beyond the DS limit raises #GP(0), not #AC")]
    public void SegmentLimitCheckPrecedesAlignmentCheck()
    {
        var h = new CpuHarness();
        h.Run(
            a =>
            {
                a.mov(eax, cr0);
                a.or(eax, (int)Cr0.AM);
                a.mov(cr0, eax);
                CpuHarness.EnterUser(a, Reserved1 | AC);
            },
            a =>
            {
                a.mov(ax, CpuHarness.SmallUserData); // limit 0xFFF
                a.mov(ds, ax);
                a.mov(eax, __dword_ptr[0xFFF]);
                a.@int(CpuHarness.ExitVector);
            });
        Assert.Multiple(() =>
        {
            Assert.That(h.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(h.Frame(0), Is.EqualTo(0u), "error code 0");
            // MOV AX, imm16 is 66 B8 iw (4 bytes); MOV DS, AX is 66 8E D8 (3 bytes).
            Assert.That(h.Frame(1), Is.EqualTo(CpuHarness.UserCodeBase + 7), "saved EIP = the access");
        });
    }
}
