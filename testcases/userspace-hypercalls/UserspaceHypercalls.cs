using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.UserspaceHypercalls;

/// <summary>
/// Tests the proposed hypercall-privilege extension (seed: XTF's "RFC Userspace hypercalls" mail;
/// our ABI in DESIGN.md section 5), __HYPERVISOR_set_hypercall_iopl = 50:
/// <list type="bullet">
/// <item>Xen's rule by default: console_io(CONSOLEIO_write) from CPL 3 returns -EPERM and logs nothing.</item>
/// <item>The kernel raises the hypercall iopl to 3; iopl 4 is -EINVAL.</item>
/// <item>Then console_io from CPL 3 works, and the message is in the hypervisor's log by the time
/// the VMCALL retires, before the next user instruction (a gate right after it checks).</item>
/// <item>set_hypercall_iopl from CPL 3 is refused (-EPERM) even when CPL 3 may make hypercalls.</item>
/// <item>Back at iopl 0, console_io from CPL 3 is -EPERM again.</item>
/// </list>
/// In PV guests user mode has only <c>int $0x82</c>, whose gate admits ring 3 once the iopl is 3:
/// below that it is #GP((0x82 &lt;&lt; 3) | 2), as INT n through a DPL-1 gate is, and Xen passes the
/// #GP on (no trap-table entry for 0x82). pv64's hypercall page switches from <c>syscall</c> to
/// <c>int $0x82</c> stubs while the iopl is above 0, and back.
/// HVM user code runs with EFLAGS.IOPL = 3 so its printk also reaches the debug port, keeping the
/// two consoles identical. Without the extension (-ENOSYS) the test reports FAILURE.
/// </summary>
[XtfTest("userspace-hypercalls", Category.Functional, Environments.All,
    Title = "Userspace hypercalls (proposed set_hypercall_iopl)")]
public sealed class UserspaceHypercalls : TestCase
{
    private const string UserMessage = "Hello from user mode\n";

    public override void Main()
    {
        ExecUserEflagsOrMask = RFlags.IOPL;
        try
        {
            Run();
        }
        finally
        {
            ExecUserEflagsOrMask = 0;
        }
    }

    private void Run()
    {
        ExpectUserConsoleRefused("at the default hypercall iopl 0");

        // DESIGN.md section 5: iopl is 0..3, else -EINVAL.
        Expect("set_hypercall_iopl(4) from the kernel", HypercallSetIopl(4), -XenErrno.EINVAL);

        long rc = HypercallSetIopl(3);
        if (rc != 0)
        {
            Failure($"Fail: set_hypercall_iopl(3) from the kernel returned {rc}, expected 0 (extension absent?)\n");
            return;
        }

        ExpectHypercallPage(int82: true, "at hypercall iopl 3");
        Printk("Hypercall iopl 3: console_io from user mode\n");
        ExpectUserConsoleLogged();

        // Only the kernel may change the hypercall iopl, though CPL 3 may now make hypercalls.
        long fromUser = 0;
        _ = ExecUser(() =>
        {
            fromUser = HypercallSetIopl(0);
            return 0;
        });
        Expect("set_hypercall_iopl(0) from CPL 3", fromUser, -XenErrno.EPERM);
        ExpectUserConsoleLogged();

        // iopl 2 admits CPL 0..2 only.
        Expect("set_hypercall_iopl(2) from the kernel", HypercallSetIopl(2), 0);
        ExpectUserConsoleRefused("at hypercall iopl 2");

        Expect("set_hypercall_iopl(0) from the kernel", HypercallSetIopl(0), 0);
        ExpectUserConsoleRefused("back at hypercall iopl 0");
        ExpectHypercallPage(int82: false, "back at hypercall iopl 0");

        Success();
    }

    /// <summary>
    /// console_io from CPL 3 is refused and nothing reaches the hypervisor's log: -EPERM from
    /// HVM's VMCALL; #GP[IDT[0x82]] from a PV guest's <c>int $0x82</c>.
    /// </summary>
    private void ExpectUserConsoleRefused(string when)
    {
        (long Result, ExInfo Fault) rc = default;
        int before = 0, after = -1;
        _ = ExecUser(() =>
        {
            before = Runtime.Domain.HypervisorConsole.Length;
            rc = TryUserConsoleWrite("not for the log\r\n", () => after = Runtime.Domain.HypervisorConsole.Length);
            if (rc.Fault != ExInfo.None)
                after = Runtime.Domain.HypervisorConsole.Length;
            return 0;
        });
        if (Runtime.IsPv)
        {
            var expected = ExInfo.Fault(X86Vector.GP, (0x82 << 3) | 2);
            if (rc.Fault != expected)
                Failure($"Fail: int $0x82 from user mode {when}: got {rc.Fault}, expected {expected}\n");
        }
        else
        {
            Expect($"console_io(CONSOLEIO_write) from CPL 3 {when}", rc.Result, -XenErrno.EPERM);
        }

        if (after != before)
            Failure($"Fail: refused console_io from CPL 3 {when} changed the log ({before} -> {after} bytes)\n");
    }

    /// <summary>
    /// printk from CPL 3 (debug port, then console_io) succeeds, and the hypervisor's log ends
    /// with the message as soon as the VMCALL retires.
    /// </summary>
    private void ExpectUserConsoleLogged()
    {
        long rc = -1;
        string? tail = null;
        int cpl = -1;
        _ = ExecUser(() =>
        {
            cpl = Runtime.Cpu.Cpl;
            rc = UserPrintk(UserMessage, () => tail = Runtime.Domain.HypervisorConsole.Text);
            return 0;
        });
        if (cpl != 3)
            Failure($"Fail: user body ran at CPL {cpl}\n");
        Expect("console_io(CONSOLEIO_write) from CPL 3 at hypercall iopl 3", rc, 0);
        if (tail is null || !tail.EndsWith(UserMessage.Replace("\n", "\r\n", StringComparison.Ordinal), StringComparison.Ordinal))
            Failure("Fail: the user-mode message was not in the log when its VMCALL retired\n");
    }

    /// <summary>
    /// pv64's hypercall page: console_io's slot is <c>push %rcx; push %r11; mov $18, %eax;
    /// syscall; pop %r11 ...</c> at iopl 0, with <c>int $0x82</c> in place of <c>syscall</c>
    /// above it; pv32pae's is always <c>mov $18, %eax; int $0x82; ret</c>. HVM pages are not
    /// ours to check here.
    /// </summary>
    private void ExpectHypercallPage(bool int82, string when)
    {
        if (!Runtime.IsPv)
            return;
        uint slot = (uint)Core.Guest.Image.HvmLayout.HypercallPage + (HypercallNumber.ConsoleIo * 32);
        var r = ExecDetailed(a =>
        {
            a.mov(eax, __dword_ptr[slot]);
            a.mov(edx, __dword_ptr[slot + 4]);
            a.mov(ecx, __dword_ptr[slot + 8]);
        });
        (ulong Low, uint High) got = (r.Eax | ((ulong)r.Edx << 32), r.Ecx);
        (ulong Low, uint High) expected = Environment == Environments.Pv32Pae
            ? (0xC382CD00_000012B8ul, 0xCCCCCCCCu)
            : (0x00000012_B8534151ul, int82 ? 0x5B4182CDu : 0x5B41050Fu);
        if (got != expected)
            Failure($"Fail: hypercall page {when}: console_io's slot starts {got.Low:x16} {got.High:x8}, expected {expected.Low:x16} {expected.High:x8}\n");
    }

    private void Expect(string what, long got, long expected)
    {
        if (got != expected)
            Failure($"Fail: {what} returned {got}, expected {expected}\n");
    }
}
