using System.Text;
using Xtf.Core.Cpu;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest;

/// <summary>
/// Hypercalls from user mode (our extension __HYPERVISOR_set_hypercall_iopl, DESIGN.md section 5).
/// The HVM hypercall page is kernel text: under paging its page is supervisor-only, so CPL 3
/// cannot call it (#PF). User code therefore issues hypercalls from its own text, a stub
/// <c>mov $nr, %eax; vmcall</c> assembled on the user text page with the arguments in the
/// HVM hypercall registers; the hypervisor sees the CPL of that VMCALL.
/// </summary>
public abstract partial class TestCase
{
    /// <summary>User data the user-mode console writes stage their text in (the second page of .data.user).</summary>
    private const ulong UserPrintkBuffer = HvmLayout.UserData + 0x1000;
    private const int UserPrintkBufferSize = 0xF00;

    private Action? afterVmcall;
    private ulong? afterVmcallGate;

    /// <summary>
    /// __HYPERVISOR_set_hypercall_iopl(iopl): through the hypercall page from the kernel, through
    /// a user-text stub at CPL 3 (where Xen refuses it with -EPERM).
    /// </summary>
    protected long HypercallSetIopl(int iopl) =>
        !Runtime.InUserMode
            ? Hypercall(HypercallNumber.SetHypercallIopl, (ulong)(uint)iopl)
            : UserHypercall(HypercallNumber.SetHypercallIopl, (ulong)(uint)iopl);

    /// <summary>
    /// A hypercall issued by <c>mov $nr, %eax; vmcall</c> (HVM) or <c>int $0x82</c> (PV) in code
    /// of the current CPL (at CPL 3, on the user text page), arguments in EBX, ECX, EDX, ESI, EDI
    /// (RDI, RSI, RDX, R10, R8 in 64-bit code). <paramref name="afterRetire"/>, if given, runs on
    /// the host from a gate the code calls right after the hypercall instruction retires, before
    /// any further instruction of the caller. A fault is a framework bug and panics (see
    /// <see cref="TryUserHypercall"/>). (From hvm64 compatibility-mode user code this needs Exec
    /// at CPL 3 in compatibility mode, which the runtime does not support yet: put the VMCALL in
    /// the ExecUser snippet itself.)
    /// </summary>
    protected long UserHypercall(int number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0, Action? afterRetire = null)
    {
        var (rc, fault) = TryUserHypercall(number, a1, a2, a3, a4, a5, afterRetire);
        if (!fault.IsNone)
            Panic($"user hypercall {number}: {fault}\n");
        return rc;
    }

    /// <summary>
    /// <see cref="UserHypercall"/> that records an exception instead: a PV guest's <c>int $0x82</c>
    /// from user mode is #GP((0x82 &lt;&lt; 3) | 2) while the hypercall iopl is below 3 (the gate's
    /// DPL is 1, DESIGN.md section 5).
    /// </summary>
    protected (long Result, ExInfo Fault) TryUserHypercall(int number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0, Action? afterRetire = null)
    {
        bool pv = Runtime.IsPv;
        bool wide = Runtime.Cpu.Bitness == 64;
        ulong gate = afterVmcallGate ??= Runtime.Gates.Register("after_vmcall", AfterVmcall, user: true);
        afterVmcall = afterRetire;
        try
        {
            var r = Runtime.Exec(a =>
            {
                HypercallRegisters.Load(a, new HypercallArgs(a1, a2, a3, a4, a5));
                a.mov(eax, (uint)number);
                if (pv)
                    a.@int(0x82);
                else
                    a.vmcall();
                if (afterRetire is not null)
                {
                    if (wide)
                        a.call(gate);
                    else
                        a.call((uint)gate);
                }
            });
            return (wide ? (long)r.Rax : (int)r.Eax, r.Fault);
        }
        finally
        {
            afterVmcall = null;
        }
    }

    /// <summary>The after_vmcall gate: runs the caller's check, then <c>ret</c> in the caller's width.</summary>
    private void AfterVmcall()
    {
        afterVmcall?.Invoke();
        Runtime.Cpu.Rip = Runtime.Cpu.Pop(Runtime.Cpu.Bitness / 8);
    }

    /// <summary>
    /// console_io(CONSOLEIO_write) of <paramref name="text"/> from the current CPL: the bytes are
    /// stored to user data by stores of that CPL, then <see cref="UserHypercall"/> issues the call.
    /// Returns Xen's result (-EPERM at a CPL above the hypercall iopl).
    /// </summary>
    protected long UserConsoleWrite(string text, Action? afterRetire = null)
    {
        int n = StageUserText(text);
        return UserHypercall(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, (ulong)n, UserPrintkBuffer, afterRetire: afterRetire);
    }

    /// <summary><see cref="UserConsoleWrite"/> that returns the exception the hypercall instruction took, if any.</summary>
    protected (long Result, ExInfo Fault) TryUserConsoleWrite(string text, Action? afterRetire = null)
    {
        int n = StageUserText(text);
        return TryUserHypercall(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, (ulong)n, UserPrintkBuffer, afterRetire: afterRetire);
    }

    /// <summary>
    /// printk from user mode through every channel the mode permits, in XTF's console order: the
    /// debug port (HVM only: PV guests have none) (<c>rep outsb</c>, refused with #GP when CPL &gt; EFLAGS.IOPL, SDM vol. 1,
    /// 18.5.1), then console_io (refused with -EPERM when CPL &gt; the hypercall iopl). LF becomes
    /// CRLF as in printk. <paramref name="afterRetire"/> runs right after console_io's VMCALL
    /// retires. Returns console_io's result.
    /// </summary>
    protected long UserPrintk(string text, Action? afterRetire = null)
    {
        string crlf = text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal);
        int n = StageUserText(crlf);
        if (!Runtime.IsPv)
            _ = Runtime.Exec(a =>
        {
            a.mov(esi, (uint)UserPrintkBuffer);
            a.mov(ecx, (uint)n);
            a.mov(edx, (uint)Machine.DebugConsole.BochsPort);
            a.rep.outsb();
        });
        return UserHypercall(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, (ulong)n, UserPrintkBuffer, afterRetire: afterRetire);
    }

    /// <summary>Stores text to the user printk buffer with stores of the current CPL; returns its length.</summary>
    private int StageUserText(string text)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        if (bytes.Length > UserPrintkBufferSize)
            throw new ArgumentException("user console write larger than its buffer", nameof(text));
        for (int i = 0; i < bytes.Length; i++)
            Runtime.Cpu.WriteLogical(X86Cpu.DS, UserPrintkBuffer + (ulong)i, 1, bytes[i]);
        return bytes.Length;
    }
}
