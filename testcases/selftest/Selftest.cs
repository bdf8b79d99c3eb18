using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Selftest;

/// <summary>
/// XTF's selftest (tests/selftest/main.c): the framework checks itself, including exec_user
/// (the body at CPL 3, its faults recorded, supervisor pages out of its reach); "NULL unmapped"
/// runs in the paged environments. Also checks exinfo for #UD, #GP, #DE, #BP and
/// the %pe rendering of exinfo values.
/// </summary>
[XtfTest("selftest", Category.Functional, Environments.Hvm32 | Environments.Hvm32Pse | Environments.Hvm32Pae | Environments.Hvm64, Title = "XTF Selftests")]
public sealed class Selftest : TestCase
{
    private ulong hookFault;
    private ulong hookFixup;
    private bool hookArmed;

    public override void Main()
    {
        TestExtable();
        TestNullUnmapped();
        TestExinfo();
        TestExinfoFormatting();
        TestUnhandledExceptionHook();
        TestExtableHandler();
        TestCustomIdte();
        TestExecUser();
        Success();
    }

    /// <summary>A fault inside an Exec snippet resumes at its fixup (XTF: _ASM_EXTABLE(1b, 2b) around ud2a).</summary>
    private void TestExtable()
    {
        Printk("Test: Exception Table\n");
        var fault = Exec(a => a.ud2());
        if (fault != ExInfo.Fault(X86Vector.UD))
            Failure($"Fail: ud2a: expected #UD, got {fault}\n");
    }

    /// <summary>
    /// XTF's test_NULL_unmapped: in the paged environments page 0 is not mapped, so a read of
    /// address 0 is #PF with error code 0 (not present, read, supervisor; SDM vol. 3, 4.7).
    /// </summary>
    private void TestNullUnmapped()
    {
        if (Environment is not (Environments.Hvm32Pse or Environments.Hvm32Pae or Environments.Hvm64))
            return;
        Printk("Test: NULL unmapped\n");
        Expect("read of NULL", ExInfo.Fault(X86Vector.PF, 0), a => a.mov(eax, __dword_ptr[0]));
    }

    /// <summary>The exception table records the vector and error code the CPU delivered (SDM table 6-1).</summary>
    private void TestExinfo()
    {
        Printk("Test: Exception information\n");
        Expect("ud2", ExInfo.Fault(X86Vector.UD), a => a.ud2());

        // DIV by zero is a fault: #DE, no error code (SDM: DIV).
        Expect("div by zero", ExInfo.Fault(X86Vector.DE), a =>
        {
            a.mov(eax, 1);
            a.xor(edx, edx);
            a.xor(ecx, ecx);
            a.div(ecx);
        });

        // INT3 through XTF's DPL3 gate is a trap: #BP, no error code.
        Expect("int3", ExInfo.Fault(X86Vector.BP), a => a.int3());

        // WRMSR to a non-existent MSR is #GP(0) (SDM: WRMSR).
        Expect("wrmsr to an invalid MSR", ExInfo.Fault(X86Vector.GP, 0), a =>
        {
            a.mov(ecx, 0xDEADBEEF);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr();
        });

        // A selector beyond the GDT limit: #GP with the selector's index as error code (SDM: MOV Sreg).
        const ushort beyondGdt = 0xFFF8;
        Expect("mov ds of a selector beyond the GDT limit", ExInfo.Fault(X86Vector.GP, beyondGdt), a =>
        {
            a.mov(eax, beyondGdt);
            a.mov(ds, ax);
        });

        // INT n through a not-present gate: #NP with the IDT error code (SDM 6.13).
        SetIdtEntry(0x22, 0, dpl: 0, present: false);
        Expect("int $0x22 through a not-present gate", ExInfo.Fault(X86Vector.NP, SelectorErrorCode.Idt(0x22)), a => a.@int(0x22));

        // The saved EIP of a trap is the next instruction, of a fault the instruction itself.
        ulong trapIp = 0, faultIp = 0;
        ulong expectedTrap = 0, expectedFault = 0;
        ExecDetailed(a => a.int3(), handler: (regs, entry) =>
        {
            trapIp = regs.Rip;
            expectedTrap = entry.Fixup;
            regs.Rip = entry.Fixup;
            return true;
        });
        if (trapIp != expectedTrap)
            Failure($"Fail: int3 saved EIP {trapIp:x8}, expected the next instruction {expectedTrap:x8}\n");
        ExecDetailed(a => a.ud2(), handler: (regs, entry) =>
        {
            faultIp = regs.Rip;
            expectedFault = entry.Fault;
            regs.Rip = entry.Fixup;
            return true;
        });
        if (faultIp != expectedFault)
            Failure($"Fail: ud2 saved EIP {faultIp:x8}, expected the faulting instruction {expectedFault:x8}\n");
    }

    private void Expect(string what, ExInfo expected, Action<Assembler> code)
    {
        var got = Exec(code);
        if (got != expected)
            Failure($"Fail: {what}: expected {expected}, got {got}\n");
    }

    /// <summary>XTF's %pe rendering (arch/x86/decode.c), value by value.</summary>
    private void TestExinfoFormatting()
    {
        Printk("Test: exinfo formatting\n");
        (ExInfo Value, string Text)[] cases =
        [
            (ExInfo.None, "nothing"),
            (ExInfo.Fault(X86Vector.UD), "#UD"),
            (ExInfo.Fault(X86Vector.DE), "#DE"),
            (ExInfo.Fault(X86Vector.GP), "#GP[0000]"),
            (ExInfo.Fault(X86Vector.DF), "#DF[0000]"),
            (ExInfo.Fault(X86Vector.NP, SelectorErrorCode.Idt(3)), "#NP[IDT[3]]"),
            (ExInfo.Fault(X86Vector.GP, SelectorErrorCode.Gdt(1)), "#GP[GDT[1]]"),
            (ExInfo.Fault(X86Vector.GP, SelectorErrorCode.Ldt(1)), "#GP[LDT[1]]"),
            (ExInfo.Fault(X86Vector.GP, SelectorErrorCode.Idt(128, external: true)), "#GP[IDT[128],EXT]"),
            (ExInfo.Fault(X86Vector.PF, 0), "#PF[-d-sr-]"),
            (ExInfo.Fault(X86Vector.PF, 0x03), "#PF[-d-sWP]"),
            (ExInfo.Fault(X86Vector.PF, 0x15), "#PF[-I-UrP]"),
            (ExInfo.Fault(X86Vector.PF, 0x2F), "#PF[KdRUWP]"),
            (ExInfo.Fault(X86Vector.UD, 1), "#UD[0001]"),
        ];
        foreach (var (value, text) in cases)
        {
            if (value.ToString() != text)
                Failure($"Fail: exinfo {value.Raw:x8} formatted as '{value}', expected '{text}'\n");
        }
    }

    /// <summary>
    /// An exception with no exception-table entry reaches the test's do_unhandled_exception hook,
    /// which may fix it up (XTF: test_unhandled_exception_hook).
    /// </summary>
    private void TestUnhandledExceptionHook()
    {
        Printk("Test: Unhandled Exception Hook\n");
        hookFault = AssembleKernelCode(a =>
        {
            a.ud2();
            a.ret();
        });
        hookFixup = hookFault + 2;
        hookArmed = true;
        ExecDetailed(a => a.call(hookFault), ExecFaults.Unhandled);
        if (hookArmed)
            Failure("Fail: unhandled exception hook did not run\n");
    }

    public override bool UnhandledException(ExceptionFrame regs)
    {
        if (!hookArmed)
            return false;
        hookArmed = false;
        if (regs.Rip != hookFault)
        {
            Printk($"Fail: Expected fault at {hookFault:x8}, got {regs.Rip:x8}\n");
            return false;
        }

        regs.Rip = hookFixup;
        return true;
    }

    /// <summary>An exception-table entry with a handler runs that handler (XTF: test_extable_handler).</summary>
    private void TestExtableHandler()
    {
        Printk("Test: Exception Table Handler\n");
        bool ran = false;
        ExecDetailed(a => a.ud2(), handler: (regs, entry) =>
        {
            ran = true;
            regs.Rip = entry.Fixup;
            return true;
        });
        if (!ran)
            Failure("Fail: Custom handler didn't run\n");
    }

    /// <summary>
    /// A test's own IDT entry at X86_VEC_AVAIL (0x21) runs its handler (XTF: test_custom_idte).
    /// In hvm64 the handler returns with IRETQ: delivery in IA-32e mode pushes a frame of five
    /// 8-byte slots (SDM vol. 3, 6.14.2), which a 32-bit IRETD would misread.
    /// </summary>
    private void TestCustomIdte()
    {
        Printk("Test: Custom IDT entry\n");
        ulong handler = AssembleKernelCode(a =>
        {
            a.mov(eax, 0x1E51C0DE);
            if (Bitness == 64)
                a.iretq();
            else
                a.iretd();
        });
        SetIdtEntry(0x21, handler, dpl: 0);
        var r = ExecDetailed(a =>
        {
            a.xor(eax, eax);
            a.@int(0x21);
        });
        if (r.Eax != 0x1E51C0DE)
            Failure($"Fail: Unexpected result 0x{r.Eax:x}\n");
    }

    /// <summary>
    /// XTF's test_exec_user: the body runs at CPL 3, which is CS bits 1:0 (SDM vol. 3, 5.5); a
    /// fault there is recorded with its vector; in the paged environments a user-mode read of a
    /// supervisor page (the kernel's data) is #PF with error code P | U (0x05: a protection
    /// violation by a user-mode read; SDM vol. 3, 4.6 and 4.7).
    /// </summary>
    private void TestExecUser()
    {
        Printk("Test: Userspace execution\n");

        // The body reports USER_seen (1) or USER_bad_cs (2), as XTF's test_exec_user_cpl3 does.
        var r = ExecUserDetailed(a =>
        {
            a.mov(ecx, cs);
            a.and(ecx, 3);
            a.xor(eax, eax);
            a.cmp(ecx, 3);
            a.setne(al);
            a.inc(eax);
        });
        if (r.Eax == 2)
            Failure("Fail: Not at cpl3\n");
        else if (r.Eax != 1 || !r.Fault.IsNone)
            Failure($"Fail: Did not execute function ({r.Fault})\n");

        var ud = ExecUser(a => a.ud2());
        if (ud != ExInfo.Fault(X86Vector.UD))
            Failure($"Fail: ud2 at CPL3: expected #UD, got {ud}\n");

        if (Environment is not (Environments.Hvm32Pse or Environments.Hvm32Pae or Environments.Hvm64))
            return;
        var pf = ExecUser(a => a.mov(eax, __dword_ptr[(uint)HvmLayout.Data]));
        var expected = ExInfo.Fault(X86Vector.PF, 0x05);
        if (pf != expected)
            Failure($"Fail: user read of a supervisor page: expected {expected}, got {pf}\n");
    }
}
