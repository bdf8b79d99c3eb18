using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using static Iced.Intel.AssemblerRegisters;
using static Xtf.Core.Cpu.RFlags;

namespace Xtf.Tests.Cpu;

/// <summary>
/// Hardware task switches through IDT task gates and IRET with NT (SDM vol. 3, 7.3 and tables
/// 7-1, 7-2). Task A is the harness's TSS (0x28 at 0x3000, busy); INT 0x40 goes through a task
/// gate to task B (0x40). Expected TSS contents follow figure 7-2 offsets: EIP 0x20, EFLAGS 0x24,
/// EAX..EDI 0x28-0x44, ES/CS/SS/DS/FS/GS 0x48-0x5C, back-link 0x00.
/// </summary>
[TestFixture]
public sealed class TaskSwitchTests
{
    private const int Vector = 0x40;
    private const uint TssA = CpuHarness.TssBase;

    /// <summary>Task A loads distinct GPR values, then INT 0x40; returns the address after the INT (A's saved EIP).</summary>
    private static uint RunIntoTaskB(TaskHarness t, Action<Assembler>? taskB = null, uint eflags = Reserved1)
    {
        t.TaskGate(Vector, TaskHarness.TaskB);
        t.TaskCode(taskB ?? (a => a.hlt()));
        Label after = default;
        var stop = t.Run(a =>
        {
            after = a.CreateLabel();
            a.mov(eax, 0xA0000000u);
            a.mov(ecx, 0xA0000001u);
            a.mov(edx, 0xA0000002u);
            a.mov(ebx, 0xA0000003u);
            a.mov(ebp, 0xA0000005u);
            a.mov(esi, 0xA0000006u);
            a.mov(edi, 0xA0000007u);
            a.@int(Vector);
            a.Label(ref after);
            a.hlt();
        }, eflags);
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        return t.H.AddressOf(after);
    }

    [TestCase(TestName = "INT n through a task gate saves the old task in its TSS: EIP after the INT, EFLAGS unchanged, GPRs, selectors")]
    public void TaskGateSavesOutgoingState()
    {
        var t = new TaskHarness();
        uint after = RunIntoTaskB(t, eflags: Reserved1 | CF | ZF | IOPL);
        Assert.Multiple(() =>
        {
            Assert.That(t.ReadU32(TssA + 0x20), Is.EqualTo(after), "EIP: the instruction after INT n");
            Assert.That(t.ReadU32(TssA + 0x24), Is.EqualTo(Reserved1 | CF | ZF | IOPL), "EFLAGS image, NT left as it was (clear)");
            uint[] gprs = [0xA0000000, 0xA0000001, 0xA0000002, 0xA0000003, CpuHarness.KernelStackTop, 0xA0000005, 0xA0000006, 0xA0000007];
            for (int i = 0; i < 8; i++)
                Assert.That(t.ReadU32(TssA + 0x28 + (uint)(4 * i)), Is.EqualTo(gprs[i]), $"GPR {i}: ESP is the value before INT (nothing pushed)");
            ushort[] selectors = [0x10, 0x08, 0x10, 0x10, 0x10, 0x10];
            for (int i = 0; i < 6; i++)
                Assert.That(t.ReadU16(TssA + 0x48 + (uint)(4 * i)), Is.EqualTo(selectors[i]), $"selector slot {i} (ES, CS, SS, DS, FS, GS)");
        });
    }

    [TestCase(TestName = "INT n through a task gate loads the new task: EIP, EFLAGS with NT set, GPRs, segments; TR, back-link, busy bits and CR0.TS")]
    public void TaskGateLoadsIncomingState()
    {
        var t = new TaskHarness();
        t.B.Eflags = Reserved1 | SF | DF;
        for (int i = 0; i < 8; i++)
            t.B.Gprs[i] = 0xB0000000u + (uint)i;
        t.B.Ds = CpuHarness.UserData; // DPL3 data is loadable at CPL0
        RunIntoTaskB(t);
        var cpu = t.Cpu;
        Assert.Multiple(() =>
        {
            Assert.That(cpu.Rip, Is.EqualTo(TaskHarness.TaskBCode + 1), "B's EIP, then its HLT retired");
            Assert.That(cpu.Eflags, Is.EqualTo(Reserved1 | SF | DF | NT), "table 7-2: a nested switch sets NT in the new task");
            Assert.That(cpu.Eax, Is.EqualTo(0xB0000000u));
            Assert.That(cpu.Edi, Is.EqualTo(0xB0000007u));
            Assert.That(cpu.Esp, Is.EqualTo(TaskHarness.TaskBStackTop), "ESP from the TSS; INT n pushes nothing on a task switch");
            Assert.That(cpu.Segments[X86Cpu.DS].Selector, Is.EqualTo(CpuHarness.UserData));
            Assert.That(cpu.Segments[X86Cpu.DS].Dpl, Is.EqualTo(3), "DS cache loaded from its descriptor");
            Assert.That(cpu.Tr.Selector, Is.EqualTo(TaskHarness.TaskB), "TR names the new TSS");
            Assert.That(t.ReadU16(TaskHarness.TssB), Is.EqualTo(CpuHarness.TssSelector), "back-link in the new TSS = the old TR");
            Assert.That(t.DescriptorType(TaskHarness.TaskB), Is.EqualTo(SystemDescriptorType.Tss32Busy), "new task busy");
            Assert.That(t.DescriptorType(CpuHarness.TssSelector), Is.EqualTo(SystemDescriptorType.Tss32Busy), "a nesting switch keeps the old task busy");
            Assert.That(cpu.Cr0Value & Cr0.TS, Is.EqualTo(Cr0.TS), "CR0.TS is set on every task switch");
        });
    }

    [TestCase(TestName = "IRET with NT set returns to the back-link task: old task saved with NT clear and not busy, back-link task resumes")]
    public void IretWithNtReturnsToBackLink()
    {
        var t = new TaskHarness();
        Label iret = default, after = default;
        t.TaskGate(Vector, TaskHarness.TaskB);
        var code = t.H.Load(TaskHarness.TaskBCode, a =>
        {
            iret = a.CreateLabel();
            a.mov(eax, 0xB1u);
            a.Label(ref iret);
            a.iretd();
        });
        var stop = t.Run(a =>
        {
            after = a.CreateLabel();
            a.mov(eax, 0xA1u);
            a.@int(Vector);
            a.Label(ref after);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        uint iretAddress = (uint)code.GetLabelRIP(iret);
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Rip, Is.EqualTo(t.H.AddressOf(after) + 1), "A resumed after its INT and halted");
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(CpuHarness.TssSelector), "TR back on task A");
            Assert.That(t.Cpu.Eax, Is.EqualTo(0xA1u), "A's EAX reloaded from its TSS");
            Assert.That(t.Cpu.Eflags & NT, Is.EqualTo(0u), "A's EFLAGS from its TSS (NT clear there)");
            Assert.That(t.ReadU32(TaskHarness.TssB + 0x20), Is.EqualTo(iretAddress + 1), "B's saved EIP: after the IRETD");
            Assert.That(t.ReadU32(TaskHarness.TssB + 0x24) & NT, Is.EqualTo(0u), "table 7-2: IRET saves the old task's EFLAGS with NT clear");
            Assert.That(t.ReadU32(TaskHarness.TssB + 0x28), Is.EqualTo(0xB1u), "B's EAX saved");
            Assert.That(t.DescriptorType(TaskHarness.TaskB), Is.EqualTo(SystemDescriptorType.Tss32Available), "IRET clears the old task's busy bit");
            Assert.That(t.DescriptorType(CpuHarness.TssSelector), Is.EqualTo(SystemDescriptorType.Tss32Busy), "the back-link task stays busy");
        });
    }

    /// <summary>Runs INT 0x40 through a task gate to <paramref name="tss"/>; the fault comes before the commit point.</summary>
    private static void AssertPreCommitFault(TaskHarness t, ushort tss, X86Vector vector, uint errorCode)
    {
        t.TaskGate(Vector, tss);
        Label at = default;
        var stop = t.Run(a =>
        {
            at = a.CreateLabel();
            a.Label(ref at);
            a.@int(Vector);
            a.hlt();
        });
        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)vector), "delivered through the harness's interrupt gate");
            Assert.That(t.H.Frame(0), Is.EqualTo(errorCode), "error code");
            Assert.That(t.H.Frame(1), Is.EqualTo(t.H.AddressOf(at)), "a fault: saved EIP is the INT itself");
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(CpuHarness.TssSelector), "still in the old task");
            Assert.That(t.ReadU32(TssA + 0x20), Is.EqualTo(0u), "nothing saved in the old TSS");
            Assert.That(t.Cpu.Cr0Value & Cr0.TS, Is.EqualTo(0u), "CR0.TS untouched");
        });
    }

    [TestCase(TestName = "Task gate to the busy current TSS raises #GP(TSS selector 0x28) (SDM: INT n TASK-GATE, table 7-1 row 2)")]
    public void TaskGateToBusyTss() => AssertPreCommitFault(new TaskHarness(), CpuHarness.TssSelector, X86Vector.GP, 0x28);

    [TestCase(TestName = "Task gate naming a data segment raises #GP(0x10)")]
    public void TaskGateToDataSegment() => AssertPreCommitFault(new TaskHarness(), CpuHarness.KernelData, X86Vector.GP, 0x10);

    [TestCase(TestName = "Task gate naming an LDT descriptor (type 2) raises #GP(0x68)")]
    public void TaskGateToLdtDescriptor() => AssertPreCommitFault(new TaskHarness(), TaskHarness.Ldt, X86Vector.GP, 0x68);

    [TestCase(TestName = "Task gate whose TSS selector has TI=1 raises #GP(0x44): TSS descriptors live in the GDT")]
    public void TaskGateWithLocalSelector() => AssertPreCommitFault(new TaskHarness(), 0x44, X86Vector.GP, 0x44);

    [TestCase(TestName = "Task gate whose TSS selector is beyond the GDT limit (0x97) raises #GP(0x100)")]
    public void TaskGateBeyondGdtLimit() => AssertPreCommitFault(new TaskHarness(), 0x100, X86Vector.GP, 0x100);

    [TestCase(TestName = "Task gate to a not-present TSS raises #NP(0x40) (table 7-1 row 1)")]
    public void TaskGateToNotPresentTss()
    {
        var t = new TaskHarness();
        t.Set(TaskHarness.TaskB, new SegmentDescriptor(SegmentDescriptor.System(SystemDescriptorType.Tss32Available, TaskHarness.TssB, 0x67).Raw & ~(1ul << 47)));
        AssertPreCommitFault(t, TaskHarness.TaskB, X86Vector.NP, 0x40);
    }

    [TestCase(TestName = "A not-present busy TSS raises #NP(0x40), not #GP: presence (row 1) is checked before busy (row 2)")]
    public void PresenceBeforeBusy()
    {
        var t = new TaskHarness();
        t.Set(TaskHarness.TaskB, new SegmentDescriptor(SegmentDescriptor.System(SystemDescriptorType.Tss32Busy, TaskHarness.TssB, 0x67).Raw & ~(1ul << 47)));
        AssertPreCommitFault(t, TaskHarness.TaskB, X86Vector.NP, 0x40);
    }

    [TestCase(TestName = "A 32-bit TSS with limit 0x66 (< 0x67) raises #TS(0x40) (table 7-1 row 3)")]
    public void Tss32LimitTooSmall()
    {
        var t = new TaskHarness();
        t.Set(TaskHarness.TaskB, SegmentDescriptor.System(SystemDescriptorType.Tss32Available, TaskHarness.TssB, 0x66));
        AssertPreCommitFault(t, TaskHarness.TaskB, X86Vector.TS, 0x40);
    }

    [TestCase(TestName = "A 16-bit TSS with limit 0x2A (< 0x2B) raises #TS(0x90)")]
    public void Tss16LimitTooSmall()
    {
        var t = new TaskHarness();
        t.Set(TaskHarness.Task16, SegmentDescriptor.System(SystemDescriptorType.Tss16Available, TaskHarness.Tss16Base, 0x2A));
        AssertPreCommitFault(t, TaskHarness.Task16, X86Vector.TS, 0x90);
    }

    [TestCase(TestName = "An exception through a task gate to a busy TSS raises #GP(0x28 | EXT = 0x29)")]
    public void ExceptionThroughTaskGateSetsExt()
    {
        var t = new TaskHarness();
        t.TaskGate((int)X86Vector.UD, CpuHarness.TssSelector);
        t.Run(a => a.ud2());
        Assert.Multiple(() =>
        {
            // #UD is benign (table 6-5): the #GP raised while delivering it is delivered on its own.
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.GP));
            Assert.That(t.H.Frame(0), Is.EqualTo(0x29u), "selector 0x28 with EXT (bit 0): the event was not INT n");
        });
    }

    /// <summary>
    /// Runs INT 0x40 into task B as set up by <paramref name="setup"/>; B's state fails a table 7-1
    /// check after the commit point, so the fault is raised in B's context and reaches a handler task.
    /// </summary>
    private static void AssertPostCommitFault(Action<TaskHarness> setup, ushort handlerTask, uint errorCode)
    {
        var t = new TaskHarness();
        setup(t);
        t.FaultsToHandlerTasks();
        RunIntoTaskB(t);
        uint top = TaskHarness.HandlerStackTop(handlerTask);
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(handlerTask), "the fault's handler task runs");
            Assert.That(t.Cpu.Esp, Is.EqualTo(top - 4), "one error code pushed on the handler task's stack");
            Assert.That(t.ReadU32(top - 4), Is.EqualTo(errorCode), "error code");
            Assert.That(t.ReadU16(TaskHarness.HandlerTssBase(handlerTask)), Is.EqualTo(TaskHarness.TaskB), "back-link: the fault belongs to task B");
            Assert.That(t.ReadU32(TaskHarness.TssB + 0x20), Is.EqualTo(TaskHarness.TaskBCode), "B saved at its first instruction");
            Assert.That(t.DescriptorType(TaskHarness.TaskB), Is.EqualTo(SystemDescriptorType.Tss32Busy), "B committed: busy");
        });
    }

    [TestCase(0x6Cu, 0x6Cu, TestName = "New task's LDT selector with TI=1 raises #TS(0x6C) in the new task (row 5)")]
    [TestCase(0x10u, 0x10u, TestName = "New task's LDT selector naming a data segment raises #TS(0x10) (row 5)")]
    [TestCase(0xA0u, 0xA0u, TestName = "New task's LDT selector beyond the GDT limit raises #TS(0xA0) (row 5)")]
    [TestCase(0x70u, 0x70u, TestName = "New task's LDT not present raises #TS(0x70) (row 10)")]
    public void BadLdt(uint ldt, uint error) => AssertPostCommitFault(t => t.B.Ldt = (ushort)ldt, TaskHarness.TsTask, error);

    [TestCase(0x0Bu, TaskHarness.TsTask, 0x08u, TestName = "New CS 0x0B (DPL0 non-conforming code, RPL3) raises #TS(0x08): DPL must equal RPL (row 6)")]
    [TestCase(0x00u, TaskHarness.TsTask, 0x00u, TestName = "New CS null raises #TS(0) (row 11)")]
    [TestCase(0x10u, TaskHarness.TsTask, 0x10u, TestName = "New CS naming a data segment raises #TS(0x10) (row 11)")]
    [TestCase(0x80u, TaskHarness.NpTask, 0x80u, TestName = "New CS not present raises #NP(0x80) (row 12)")]
    public void BadCode(uint cs, ushort task, uint error) => AssertPostCommitFault(t => t.B.Cs = (ushort)cs, task, error);

    [TestCase(0x00u, TaskHarness.TsTask, 0x00u, TestName = "New SS null raises #TS(0) (row 7)")]
    [TestCase(0x08u, TaskHarness.TsTask, 0x08u, TestName = "New SS naming a code segment raises #TS(0x08) (row 7)")]
    [TestCase(0x78u, TaskHarness.SsTask, 0x78u, TestName = "New SS not present raises #SS(0x78) (row 8)")]
    [TestCase(0x23u, TaskHarness.TsTask, 0x20u, TestName = "New SS with DPL3 under CPL0 raises #TS(0x20) (row 9)")]
    [TestCase(0x13u, TaskHarness.TsTask, 0x10u, TestName = "New SS 0x13 (DPL0, RPL3) raises #TS(0x10): DPL must equal RPL (row 13)")]
    public void BadStack(uint ss, ushort task, uint error) => AssertPostCommitFault(t => t.B.Ss = (ushort)ss, task, error);

    [TestCase(0x78u, TaskHarness.NpTask, 0x78u, TestName = "New DS not present raises #NP(0x78) (row 16)")]
    [TestCase(0x88u, TaskHarness.TsTask, 0x88u, TestName = "New DS naming execute-only code raises #TS(0x88) (row 15)")]
    [TestCase(0x28u, TaskHarness.TsTask, 0x28u, TestName = "New DS naming a TSS (system descriptor) raises #TS(0x28) (row 14)")]
    [TestCase(0xA0u, TaskHarness.TsTask, 0xA0u, TestName = "New DS beyond the GDT limit raises #TS(0xA0) (row 14)")]
    [TestCase(0x13u, TaskHarness.TsTask, 0x10u, TestName = "New DS 0x13 (DPL0 data, RPL3) raises #TS(0x10) (row 17, as for MOV)")]
    public void BadData(uint ds, ushort task, uint error) => AssertPostCommitFault(t => t.B.Ds = (ushort)ds, task, error);

    [TestCase(TestName = "New GS not present raises #NP(0x78) after DS, ES, FS loaded (rows 14-17 for each data register)")]
    public void BadGs() => AssertPostCommitFault(t => t.B.Gs = TaskHarness.DataNotPresent, TaskHarness.NpTask, 0x78);

    [TestCase(TestName = "A CPL3 task with DS = DPL0 data raises #TS(0x10): data DPL below the new CPL (row 17)")]
    public void DataBelowNewCpl() => AssertPostCommitFault(
        t =>
        {
            t.B.Cs = CpuHarness.UserCode;
            t.B.Ss = CpuHarness.UserData;
            t.B.Ds = CpuHarness.KernelData;
        },
        TaskHarness.TsTask,
        0x10);

    [TestCase(TestName = "Order: a not-present SS (#SS, row 8) is reported before a not-present CS (#NP, row 12)")]
    public void StackPresenceBeforeCodePresence() => AssertPostCommitFault(
        t =>
        {
            t.B.Ss = TaskHarness.DataNotPresent;
            t.B.Cs = TaskHarness.CodeNotPresent;
        },
        TaskHarness.SsTask,
        0x78);

    [TestCase(TestName = "Order: SS DPL != CPL (row 9) is reported before a not-present LDT (row 10)")]
    public void StackDplBeforeLdtPresence() => AssertPostCommitFault(
        t =>
        {
            t.B.Ss = CpuHarness.UserData;
            t.B.Ldt = TaskHarness.LdtNotPresent;
        },
        TaskHarness.TsTask,
        0x20);

    [TestCase(TestName = "Order: CS DPL != RPL (row 6) is reported before a null SS (row 7)")]
    public void CodeDplBeforeStackValidity() => AssertPostCommitFault(
        t =>
        {
            t.B.Cs = 0x0B;
            t.B.Ss = 0;
        },
        TaskHarness.TsTask,
        0x08);

    [TestCase(TestName = "Order: an invalid SS (row 7) is reported before a null CS (row 11)")]
    public void StackValidityBeforeCodeValidity() => AssertPostCommitFault(
        t =>
        {
            t.B.Cs = 0;
            t.B.Ss = CpuHarness.KernelCode;
        },
        TaskHarness.TsTask,
        0x08);

    [TestCase(TestName = "A fault after the commit of an exception-driven switch carries EXT: #UD via task gate, new SS null -> #TS(1)")]
    public void PostCommitFaultOfExceptionHasExt()
    {
        var t = new TaskHarness();
        t.B.Ss = 0;
        t.FaultsToHandlerTasks();
        t.TaskGate((int)X86Vector.UD, TaskHarness.TaskB);
        t.Run(a => a.ud2());
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.TsTask));
            Assert.That(t.ReadU32(TaskHarness.HandlerStackTop(TaskHarness.TsTask) - 4), Is.EqualTo(1u), "#TS(0 | EXT)");
        });
    }

    [TestCase(TestName = "The new task's LDT is loaded before its segments: DS = 0x04 (LDT entry 0) loads from the new LDT")]
    public void SegmentsComeFromTheNewLdt()
    {
        var t = new TaskHarness();
        t.B.Ldt = TaskHarness.Ldt;
        t.B.Ds = 0x04;
        RunIntoTaskB(t);
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.TaskB));
            Assert.That(t.Cpu.Ldtr.Selector, Is.EqualTo(TaskHarness.Ldt));
            Assert.That(t.Cpu.Ldtr.Base, Is.EqualTo((ulong)TaskHarness.LdtBase));
            Assert.That(t.Cpu.Segments[X86Cpu.DS].Selector, Is.EqualTo((ushort)0x04));
            Assert.That(t.Cpu.Segments[X86Cpu.DS].Usable, Is.True);
        });
    }

    [TestCase(TestName = "#DF through a task gate (XTF's hvm32 arrangement): #GP with a not-present gate -> #NP -> #DF, error code 0 on the DF task's stack")]
    public void DoubleFaultThroughTaskGate()
    {
        var t = new TaskHarness();
        t.H.SetGate((int)X86Vector.GP, SystemDescriptorType.InterruptGate32, 0, present: false);
        t.TaskGate((int)X86Vector.DF, TaskHarness.GpTask);
        Label at = default;
        t.Run(a =>
        {
            at = a.CreateLabel();
            a.mov(ax, 0x100);
            a.Label(ref at);
            a.mov(ds, ax); // #GP(0x100): beyond the GDT limit
            a.hlt();
        });
        uint top = TaskHarness.HandlerStackTop(TaskHarness.GpTask);
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.GpTask), "the #DF task runs");
            Assert.That(t.Cpu.Esp, Is.EqualTo(top - 4));
            Assert.That(t.ReadU32(top - 4), Is.EqualTo(0u), "#DF error code is 0");
            Assert.That(t.ReadU16(TaskHarness.HandlerTssBase(TaskHarness.GpTask)), Is.EqualTo(CpuHarness.TssSelector), "back-link to task A");
            Assert.That(t.ReadU32(TssA + 0x20), Is.EqualTo(t.H.AddressOf(at)), "A saved at the faulting MOV DS");
            Assert.That(t.Cpu.Eflags & NT, Is.EqualTo(NT));
        });
    }

    [TestCase(TestName = "The T flag of the new TSS raises a #DB trap before the task's first instruction, with DR6.BT (bit 15)")]
    public void DebugTrapFlag()
    {
        var t = new TaskHarness();
        t.B.Trap = true;
        RunIntoTaskB(t);
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.DB), "#DB through the harness's interrupt gate, in task B");
            Assert.That(t.H.Frame(0), Is.EqualTo(TaskHarness.TaskBCode), "saved EIP: B's first instruction, not yet executed");
            Assert.That(t.Cpu.Esp, Is.EqualTo(TaskHarness.TaskBStackTop - 12), "frame on B's stack");
            Assert.That(t.Cpu.Dr[6] & 0x8000, Is.EqualTo(0x8000ul), "DR6.BT");
        });
    }

    /// <summary>Runs A with NT set and the back-link <paramref name="backLink"/>, then IRETD; returns the IRETD's address.</summary>
    private static uint RunIretWithNt(TaskHarness t, ushort backLink)
    {
        Label at = default;
        t.Run(a =>
        {
            at = a.CreateLabel();
            a.mov(__word_ptr[TssA], backLink);
            a.pushfd();
            a.or(__dword_ptr[esp], (int)NT);
            a.popfd();
            a.Label(ref at);
            a.iretd();
            a.hlt();
        });
        return t.H.AddressOf(at);
    }

    [TestCase(0x40, TestName = "IRET with NT to a back-link TSS that is not busy raises #TS(0x40) (SDM: IRET TASK-RETURN)")]
    [TestCase(0x10, TestName = "IRET with NT to a back-link naming a data segment raises #TS(0x10)")]
    [TestCase(0x44, TestName = "IRET with NT to a back-link with TI=1 raises #TS(0x44)")]
    public void IretTaskReturnChecks(int backLink)
    {
        var t = new TaskHarness();
        uint at = RunIretWithNt(t, (ushort)backLink);
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.TS));
            Assert.That(t.H.Frame(0), Is.EqualTo((uint)backLink), "error code: the back-link selector");
            Assert.That(t.H.Frame(1), Is.EqualTo(at), "a fault at the IRETD, nothing committed");
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(CpuHarness.TssSelector));
        });
    }

    [TestCase(TestName = "IRET with NT to a busy but not-present back-link TSS raises #NP(0x40)")]
    public void IretTaskReturnToNotPresentTss()
    {
        var t = new TaskHarness();
        t.Set(TaskHarness.TaskB, new SegmentDescriptor(SegmentDescriptor.System(SystemDescriptorType.Tss32Busy, TaskHarness.TssB, 0x67).Raw & ~(1ul << 47)));
        RunIretWithNt(t, TaskHarness.TaskB);
        Assert.Multiple(() =>
        {
            Assert.That(t.H.Vector, Is.EqualTo((int)X86Vector.NP));
            Assert.That(t.H.Frame(0), Is.EqualTo(0x40u));
        });
    }

    [TestCase(TestName = "IRET with NT to a busy back-link TSS switches without nesting: NT from the TSS, no back-link written")]
    public void IretTaskReturnToBusyTss()
    {
        var t = new TaskHarness();
        t.Set(TaskHarness.TaskB, SegmentDescriptor.System(SystemDescriptorType.Tss32Busy, TaskHarness.TssB, 0x67));
        t.B.BackLink = 0x1234;
        t.TaskCode(a => a.hlt());
        RunIretWithNt(t, TaskHarness.TaskB);
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.TaskB));
            Assert.That(t.Cpu.Eflags & NT, Is.EqualTo(0u), "NT from B's TSS image");
            Assert.That(t.ReadU16(TaskHarness.TssB), Is.EqualTo((ushort)0x1234), "IRET writes no back-link");
            Assert.That(t.DescriptorType(CpuHarness.TssSelector), Is.EqualTo(SystemDescriptorType.Tss32Available), "A no longer busy");
            Assert.That(t.ReadU32(TssA + 0x24) & NT, Is.EqualTo(0u), "A saved with NT clear");
        });
    }

    [TestCase(TestName = "A 16-bit TSS: IP, FLAGS, AX..DI, ES/CS/SS/DS loaded (upper GPR words ones, FS/GS null); IRET saves 16-bit fields back")]
    public void SixteenBitTss()
    {
        var t = new TaskHarness();
        var tss = new byte[0x2C];
        void Put(int offset, ushort value) => BitConverter.TryWriteBytes(tss.AsSpan(offset), value);
        Put(0x0E, (ushort)TaskHarness.TaskBCode);
        Put(0x10, (ushort)(Reserved1 | CF));
        for (int i = 0; i < 8; i++)
            Put(0x12 + (2 * i), (ushort)(0x1100 + i));
        Put(0x1A, 0xC000); // SP
        Put(0x22, CpuHarness.KernelData);
        Put(0x24, CpuHarness.KernelCode);
        Put(0x26, CpuHarness.KernelData);
        Put(0x28, CpuHarness.KernelData);
        t.H.WriteBytes(TaskHarness.Tss16Base, tss);
        t.TaskGate(0x41, TaskHarness.Task16);
        Label iret = default;
        var code = t.H.Load(TaskHarness.TaskBCode, a =>
        {
            iret = a.CreateLabel();
            a.mov(esi, 0xDEAD5678u);
            a.Label(ref iret);
            a.iretd();
        });
        ulong eaxInTask, fsUsable;
        t.Run(a =>
        {
            a.@int(0x41);
            a.hlt();
        }, budget: 5);

        // Five instructions: LGDT, the two MOVs writing the task gate, the INT, the task's MOV ESI.
        eaxInTask = t.Cpu.Eax;
        fsUsable = t.Cpu.Segments[X86Cpu.FS].Usable ? 1ul : 0;
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(TaskHarness.Task16));
            Assert.That(eaxInTask, Is.EqualTo(0xFFFF1100ul), "AX from the TSS, upper word ones");
            Assert.That(t.Cpu.Esp, Is.EqualTo(0xFFFFC000u));
            Assert.That(fsUsable, Is.EqualTo(0ul), "a 16-bit TSS has no FS: null");
            Assert.That(t.Cpu.Eflags, Is.EqualTo(Reserved1 | CF | NT));
            Assert.That(t.ReadU16(TaskHarness.Tss16Base), Is.EqualTo(CpuHarness.TssSelector), "back-link at offset 0");
            Assert.That(t.DescriptorType(TaskHarness.Task16), Is.EqualTo(SystemDescriptorType.Tss16Busy));
        });

        t.Cpu.Budget = 10;
        Assert.That(t.Cpu.Run(), Is.EqualTo(StopReason.Halted));
        Assert.Multiple(() =>
        {
            Assert.That(t.Cpu.Tr.Selector, Is.EqualTo(CpuHarness.TssSelector), "back in A");
            Assert.That(t.ReadU16(TaskHarness.Tss16Base + 0x0E), Is.EqualTo((ushort)(code.GetLabelRIP(iret) + 1)), "IP saved at 0x0E");
            Assert.That(t.ReadU16(TaskHarness.Tss16Base + 0x10), Is.EqualTo((ushort)(Reserved1 | CF)), "FLAGS saved at 0x10 with NT clear");
            Assert.That(t.ReadU16(TaskHarness.Tss16Base + 0x1E), Is.EqualTo((ushort)0x5678), "SI saved at 0x1E, low word only");
            Assert.That(t.ReadU16(TaskHarness.Tss16Base + 0x20), Is.EqualTo((ushort)0x1107), "DI saved at 0x20");
            Assert.That(t.DescriptorType(TaskHarness.Task16), Is.EqualTo(SystemDescriptorType.Tss16Available));
        });
    }
}
