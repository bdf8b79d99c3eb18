using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// The PV hypercalls that set up delivery (xen/arch/x86/pv/callback.c: do_set_trap_table,
/// do_callback_op; pv/iret.c; x86_64/entry.S switch_to_kernel), from guests: error values for
/// bad arguments, the SYSCALL callback of a pv64 guest and its return through HYPERVISOR_iret with
/// VGCF_in_syscall, and a bounce frame that cannot be written ending the domain.
/// </summary>
public sealed class TrapHypercallTests
{
    private const ulong Slots = HvmLayout.UserData + 0x800;

    private static InstanceOutcome Run<T>(Environments env)
        where T : TestCase, new() => GuestHarness.Run<T>(env: env);

    private static void AssertLines(InstanceOutcome o, params string[] lines)
    {
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        foreach (string l in lines)
            Assert.That(o.Lines, Does.Contain(l), o.ConsoleLog);
    }

    private sealed class ErrorValues : TestCase
    {
        public override void Main()
        {
            // set_trap_table reads entries until a zero address: an unmapped list is -EFAULT.
            Printk($"trap table at NULL page {Hypercall(HypercallNumber.SetTrapTable, 0x10)}\n");
            if (Bitness == 64)
            {
                // A non-canonical handler is -EINVAL (native ABI only).
                ulong entry = HvmLayout.Scratch + 0x800;
                var e = new byte[32];
                e[0] = 0x31;
                BitConverter.TryWriteBytes(e.AsSpan(2), (ushort)0xe033);
                BitConverter.TryWriteBytes(e.AsSpan(8), 0x8000000000000000ul);
                Runtime.WriteKernelBytes(entry, e);
                Printk($"noncanonical {Hypercall(HypercallNumber.SetTrapTable, entry)}\n");
            }

            // callback_op: an unknown command; a register struct in unmapped memory; unregistering
            // the event callback; registering syscall from a compat guest.
            Printk($"callback_op 7 {Hypercall(HypercallNumber.CallbackOp, 7, HvmLayout.Scratch)}\n");
            Printk($"callback_op fault {Hypercall(HypercallNumber.CallbackOp, 0, 0x10)}\n");
            var unreg = new byte[4];
            Runtime.WriteKernelBytes(HvmLayout.Scratch + 0x900, unreg);
            Printk($"unregister event {Hypercall(HypercallNumber.CallbackOp, 1, HvmLayout.Scratch + 0x900)}\n");
            var reg = new byte[16];
            reg[0] = 2; // CALLBACKTYPE_syscall
            BitConverter.TryWriteBytes(reg.AsSpan(Bitness == 64 ? 8 : 8), (uint)HvmLayout.KernelCode);
            if (Bitness == 32)
                BitConverter.TryWriteBytes(reg.AsSpan(4), (uint)0xe019);
            Runtime.WriteKernelBytes(HvmLayout.Scratch + 0xA00, reg);
            Printk($"register syscall {Hypercall(HypercallNumber.CallbackOp, 0, HvmLayout.Scratch + 0xA00)}\n");
            Printk($"stack_switch {Hypercall(HypercallNumber.StackSwitch, Runtime.UserDs, HvmLayout.Ring0StackTop)}\n");
            Success();
        }
    }

    [Test]
    public void Pv64ErrorValues() => AssertLines(Run<ErrorValues>(Environments.Pv64),
        $"trap table at NULL page {-XenErrno.EFAULT}", $"noncanonical {-XenErrno.EINVAL}",
        $"callback_op 7 {-XenErrno.ENOSYS}", $"callback_op fault {-XenErrno.EFAULT}",
        $"unregister event {-XenErrno.EINVAL}", "register syscall 0", "stack_switch 0");

    /// <summary>Compat: an unknown callback_op command is -EINVAL, and there is no CALLBACKTYPE_syscall (-ENOSYS).</summary>
    [Test]
    public void Pv32ErrorValues() => AssertLines(Run<ErrorValues>(Environments.Pv32Pae),
        $"trap table at NULL page {-XenErrno.EFAULT}", $"callback_op 7 {-XenErrno.EINVAL}",
        $"callback_op fault {-XenErrno.EFAULT}", $"unregister event {-XenErrno.EINVAL}",
        $"register syscall {-XenErrno.ENOSYS}", "stack_switch 0");

    /// <summary>
    /// switch_to_kernel: SYSCALL from pv64 user mode with no syscall callback is #UD at the
    /// instruction; with one, the kernel handler runs on the stack_switch stack with RCX = the
    /// RIP after the SYSCALL and R11 = the user RFLAGS in both the registers and the bounce
    /// frame (RCX, R11, RIP, CS, RFLAGS, RSP, SS from its lowest address), and HYPERVISOR_iret
    /// with VGCF_in_syscall resumes user mode after the SYSCALL.
    /// </summary>
    private sealed class SyscallCallback : TestCase
    {
        public override void Main()
        {
            Printk($"no callback {ExecUser(a => a.syscall())}\n");

            ulong handler = AssembleKernelCode(a =>
            {
                a.mov(__qword_ptr[(uint)Slots], rcx);
                a.mov(__qword_ptr[(uint)Slots + 8], r11);
                a.mov(rax, __qword_ptr[rsp]);
                a.mov(__qword_ptr[(uint)Slots + 16], rax);
                a.mov(rax, __qword_ptr[rsp + 16]);
                a.mov(__qword_ptr[(uint)Slots + 24], rax);
                a.mov(__qword_ptr[(uint)Slots + 32], rsp);
                a.add(rsp, 16);
                a.push(0x100);
                a.jmp(PvLayout.HypercallIret);
            });
            var reg = new byte[16];
            reg[0] = 2; // CALLBACKTYPE_syscall
            BitConverter.TryWriteBytes(reg.AsSpan(8), handler);
            Runtime.WriteKernelBytes(HvmLayout.Scratch, reg);
            Printk($"register {Hypercall(HypercallNumber.CallbackOp, 0, HvmLayout.Scratch)}\n");

            ulong after = 0;
            var r = ExecUserDetailed(a =>
            {
                var next = a.CreateLabel();
                a.syscall();
                a.Label(ref next);
                a.lea(rbx, __[next]);
                a.mov(eax, 0x5a);
            });
            after = r.Ebx;
            ulong savedRcx = Read(Slots), savedR11 = Read(Slots + 8), frameRcx = Read(Slots + 16), frameRip = Read(Slots + 24), sp = Read(Slots + 32);
            Printk($"fault {r.Fault}\n");
            Printk($"rcx is next {savedRcx == after && frameRcx == after && frameRip == after}\n");
            Printk($"r11 is user rflags {(savedR11 & 0x202) == 0x202}\n");
            Printk($"kernel stack {sp == (HvmLayout.Ring0StackTop & ~15ul) - 56}\n");
            Printk($"resumed {r.Eax:x}\n");
            Success();
        }

        private ulong Read(ulong at) => ExecDetailed(a => a.mov(rax, __qword_ptr[(uint)at])).Rax;
    }

    [Test]
    public void Pv64SyscallCallbackRoundTrip() => AssertLines(Run<SyscallCallback>(Environments.Pv64),
        "no callback #UD", "register 0", "fault nothing", "rcx is next True", "r11 is user rflags True",
        "kernel stack True", "resumed 5a");

    /// <summary>
    /// XTF's arch_crash_hard: a stack pointer Xen cannot write a bounce frame on (pv64:
    /// non-canonical; pv32pae: the read-only M2P), then PUSHF: the domain crashes.
    /// </summary>
    private sealed class BadKernelStack : TestCase
    {
        public override void Main()
        {
            Runtime.CrashHardPv();
            Success();
        }
    }

    [TestCase(Environments.Pv64)]
    [TestCase(Environments.Pv32Pae)]
    public void UnwritableBounceFrameCrashesTheDomain(Environments env)
    {
        var o = Run<BadKernelStack>(env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog);
        Assert.That(o.Diagnostic, Does.Contain("domain shut down: crash"));
    }
}
