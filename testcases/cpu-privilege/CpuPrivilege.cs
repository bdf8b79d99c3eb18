using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.CpuPrivilege;

/// <summary>
/// Privilege transitions and IOPL from real guest code: CPL 3 is entered with IRET and left
/// through a DPL3 call gate to ring 0 (SDM vol. 3, 5.8.5); CLI, IN and POPF at CPL 3 follow IOPL
/// (SDM vol. 2, CLI, IN, POPF; vol. 1, 18.5): CLI and IN fault with #GP(0) when CPL &gt; IOPL,
/// POPF silently keeps IF and IOPL.
/// </summary>
[XtfTest("cpu-privilege", Category.Functional, Environments.Hvm32, Title = "CPU privilege levels, call gates and IOPL")]
public sealed class CpuPrivilege : TestCase
{
    // Free RAM above the image (HvmLayout.ImageEnd): XTF's user_stack page, a ring-0 stack for
    // this test's excursions, and two kernel variables.
    private const uint UserStackTop = 0x301000;
    private const uint Ring0StackTop = 0x302000;
    private const uint ContinuationSlot = 0x302000;
    private const uint KernelEspSlot = 0x302004;

    private const int GateEntry = HvmLayout.GdteAvail0, Dpl0GateEntry = HvmLayout.GdteAvail0 + 1;
    private const ushort CallGate = (GateEntry << 3) | 3;
    private const ushort Dpl0CallGate = (Dpl0GateEntry << 3) | 3;
    private const uint Reserved1 = 1u << 1, IF = 1u << 9, IOPL3 = 3u << 12;

    private ulong userReturn;

    public override void Main()
    {
        SetupGates();
        TestCallGate();
        TestCallGateDpl();
        TestCli();
        TestIn();
        TestPopf();
        Success();
    }

    /// <summary>
    /// GDT slot 9: a DPL3 32-bit call gate to ring-0 code that reports the caller's CS and SS (in
    /// ESI, EDI), restores the kernel's flags, segments and stack, and resumes the Exec snippet.
    /// Slot 10: the same gate with DPL 0.
    /// </summary>
    private void SetupGates()
    {
        ulong entry = AssembleKernelCode(a =>
        {
            a.mov(esi, __dword_ptr[esp + 4]);
            a.mov(edi, __dword_ptr[esp + 12]);
            a.push(Reserved1);
            a.popfd();
            a.mov(eax, HvmLayout.KernelDs);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.mov(__dword_ptr[(uint)HvmLayout.Tss + 4], (uint)HvmLayout.KernelStackTop);
            a.mov(esp, __dword_ptr[KernelEspSlot]);
            a.jmp(__dword_ptr[ContinuationSlot]);
        });
        SetGdtEntry(GateEntry, SegmentDescriptor.Gate(SystemDescriptorType.CallGate32, HvmLayout.KernelCs, (uint)entry, dpl: 3));
        SetGdtEntry(Dpl0GateEntry, SegmentDescriptor.Gate(SystemDescriptorType.CallGate32, HvmLayout.KernelCs, (uint)entry, dpl: 0));
        userReturn = AssembleKernelCode(a => CallFar(a, CallGate));
    }

    private static void CallFar(Assembler a, ushort selector) =>
        a.AddInstruction(Instruction.CreateBranch(Code.Call_ptr1632, selector, 0));

    /// <summary>
    /// XTF's exec_user: runs <paramref name="body"/> at CPL 3 with <paramref name="eflags"/>,
    /// entered with IRETD (user CS, DS, ES and stack) and left through the call gate. An exception
    /// at CPL 3 is recorded and the body abandoned, still at CPL 3, for the call gate.
    /// </summary>
    private (ExInfo Fault, ExecResult Regs) ExecUser(Action<Assembler> body, uint eflags)
    {
        var fault = ExInfo.None;
        var regs = ExecDetailed(a =>
        {
            var setup = a.CreateLabel();
            var enter = a.CreateLabel();
            var done = a.CreateLabel();
            a.call(setup);
            a.jmp(done);                   // the continuation, in ring 0 again
            a.Label(ref setup);
            a.pop(eax);
            a.mov(__dword_ptr[ContinuationSlot], eax);
            a.mov(__dword_ptr[KernelEspSlot], esp);
            a.mov(__dword_ptr[(uint)HvmLayout.Tss + 4], Ring0StackTop);
            a.call(enter);
            body(a);                       // CPL 3
            CallFar(a, CallGate);
            a.Label(ref enter);
            a.pop(ecx);                    // the CPL 3 entry point, pushed by `call enter`
            a.mov(eax, HvmLayout.UserDs);
            a.mov(ds, ax);
            a.mov(es, ax);
            a.push(HvmLayout.UserDs);
            a.push(UserStackTop);
            a.push(eflags);
            a.push(HvmLayout.UserCs);
            a.push(ecx);
            a.iretd();
            a.Label(ref done);
            a.nop();
        }, handler: (frame, entry) =>
        {
            fault = frame.ExInfo;
            frame.Eip = (uint)userReturn;
            return true;
        });
        return (fault, regs);
    }

    /// <summary>CALL through a DPL3 call gate from CPL 3 reaches ring 0 with the caller's CS and SS on the new stack.</summary>
    private void TestCallGate()
    {
        Printk("Test: call gate from CPL 3 to CPL 0\n");
        var (fault, regs) = ExecUser(a => a.mov(ebx, 0x600D), Reserved1);
        if (fault != ExInfo.None)
            Failure($"Fail: user code faulted: {fault}\n");
        if (regs.Ebx != 0x600D)
            Failure($"Fail: user code did not run: ebx {regs.Ebx:x}\n");
        if (regs.Esi != HvmLayout.UserCs || regs.Edi != HvmLayout.UserDs)
            Failure($"Fail: call gate frame: caller CS {regs.Esi:x4} SS {regs.Edi:x4}, expected {HvmLayout.UserCs:x4} {HvmLayout.UserDs:x4}\n");
    }

    /// <summary>SDM: CALL, CALL-GATE: a gate with DPL &lt; CPL is #GP(gate selector).</summary>
    private void TestCallGateDpl()
    {
        Printk("Test: call gate DPL below CPL\n");
        var (fault, _) = ExecUser(a => CallFar(a, Dpl0CallGate), Reserved1);
        var expected = ExInfo.Fault(X86Vector.GP, SelectorErrorCode.Gdt(Dpl0GateEntry));
        if (fault != expected)
            Failure($"Fail: call through a DPL0 gate at CPL 3: expected {expected}, got {fault}\n");
    }

    /// <summary>SDM: CLI: #GP(0) at CPL 3 with IOPL 0; with IOPL 3 IF is cleared.</summary>
    private void TestCli()
    {
        Printk("Test: cli at CPL 3\n");
        var (fault, _) = ExecUser(a => a.cli(), Reserved1 | IF);
        if (fault != ExInfo.Fault(X86Vector.GP, 0))
            Failure($"Fail: cli with IOPL 0: expected #GP[0000], got {fault}\n");

        (fault, var regs) = ExecUser(a =>
        {
            a.cli();
            a.pushfd();
            a.pop(ebx);
        }, Reserved1 | IF | IOPL3);
        if (fault != ExInfo.None)
            Failure($"Fail: cli with IOPL 3: got {fault}\n");
        else if ((regs.Ebx & IF) != 0)
            Failure($"Fail: cli with IOPL 3 left IF set: eflags {regs.Ebx:x8}\n");
    }

    /// <summary>SDM vol. 1, 18.5: IN at CPL 3 with IOPL 0 and no I/O bitmap in the TSS is #GP(0); with IOPL 3 it reads the port.</summary>
    private void TestIn()
    {
        Printk("Test: in at CPL 3\n");
        Action<Assembler> read = a =>
        {
            a.xor(eax, eax);
            a.mov(edx, 0xE9);
            a.@in(al, dx);
            a.mov(ebx, eax);
        };
        var (fault, _) = ExecUser(read, Reserved1);
        if (fault != ExInfo.Fault(X86Vector.GP, 0))
            Failure($"Fail: in with IOPL 0: expected #GP[0000], got {fault}\n");

        (fault, var regs) = ExecUser(read, Reserved1 | IOPL3);
        if (fault != ExInfo.None)
            Failure($"Fail: in with IOPL 3: got {fault}\n");
        else if (regs.Ebx != 0xE9)
            Failure($"Fail: in from port 0xe9 read {regs.Ebx:x2}, expected the debug console's e9\n");
    }

    /// <summary>SDM: POPF at CPL 3 with IOPL 0 leaves IF and IOPL unchanged, without a fault, and changes the rest.</summary>
    private void TestPopf()
    {
        Printk("Test: popf at CPL 3\n");
        const uint carry = 1;
        var (fault, regs) = ExecUser(a =>
        {
            a.push(Reserved1 | IOPL3 | carry); // IF 0, IOPL 3, CF 1
            a.popfd();
            a.pushfd();
            a.pop(ebx);
        }, Reserved1 | IF);
        if (fault != ExInfo.None)
            Failure($"Fail: popf with IOPL 0 faulted: {fault}\n");
        else if ((regs.Ebx & (IF | IOPL3 | carry)) != (IF | carry))
            Failure($"Fail: popf at CPL 3 with IOPL 0: eflags {regs.Ebx:x8}, expected IF 1, IOPL 0, CF 1\n");
    }
}
