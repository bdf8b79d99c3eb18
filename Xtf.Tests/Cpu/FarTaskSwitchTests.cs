using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Far JMP and CALL to a TSS descriptor switch tasks (SDM vol. 3, 7.3 and table 7-2): the far
/// transfer's descriptor checks hand over to the task switch, which differs by reason in busy
/// bits, NT and the back-link.
/// </summary>
[TestFixture]
public sealed class FarTaskSwitchTests
{
    private static TaskHarness RunFar(Code code)
    {
        var t = new TaskHarness();
        t.TaskCode(a => a.hlt());
        var stop = t.Run(a => a.AddInstruction(Instruction.CreateBranch(code, TaskHarness.TaskB, 0)));
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return t;
    }

    [TestCase(TestName = "JMP far to an available TSS: new task busy, old task not busy, no back-link, NT clear (table 7-2)")]
    public void JmpToTssSwitchesWithoutNesting()
    {
        var t = RunFar(Code.Jmp_ptr1632);
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.TaskB));
            Assert.That(t.Cpu.Rip, Is.EqualTo(TaskHarness.TaskBCode + 1), "task B's EIP, then its HLT retired");
            Assert.That(t.DescriptorType(TaskHarness.TaskB), Is.EqualTo(SystemDescriptorType.Tss32Busy));
            Assert.That(t.DescriptorType(CpuHarness.TssSelector), Is.EqualTo(SystemDescriptorType.Tss32Available), "JMP clears the old task's busy bit");
            Assert.That(t.ReadU16(TaskHarness.TssB), Is.Zero, "JMP writes no back-link");
            Assert.That(t.Cpu.Eflags & NT, Is.Zero, "JMP leaves NT as the new TSS has it");
        });
    }

    [TestCase(TestName = "CALL far to an available TSS nests: back-link = old TR, NT set, old task stays busy (table 7-2)")]
    public void CallToTssNests()
    {
        var t = RunFar(Code.Call_ptr1632);
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.TaskB));
            Assert.That(t.DescriptorType(TaskHarness.TaskB), Is.EqualTo(SystemDescriptorType.Tss32Busy));
            Assert.That(t.DescriptorType(CpuHarness.TssSelector), Is.EqualTo(SystemDescriptorType.Tss32Busy), "CALL keeps the old task busy");
            Assert.That(t.ReadU16(TaskHarness.TssB), Is.EqualTo(CpuHarness.TssSelector), "back-link = the caller's TR");
            Assert.That(t.Cpu.Eflags & NT, Is.EqualTo(NT), "CALL sets NT in the new task");
        });
    }
}
