using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.PopfIopl;

/// <summary>
/// POPF, CLI and STI at CPL &gt; IOPL (ours; seed: issue 6). The rules:
/// <list type="bullet">
/// <item>SDM vol. 2, POPF (protected mode, CPL &gt; 0): IOPL is not changed; when CPL &gt; IOPL,
/// IF is not changed either, and no exception is raised (the other flags change as usual).</item>
/// <item>SDM vol. 2, CLI/STI (protected mode, CR4.PVI clear): CPL &gt; IOPL is #GP(0).</item>
/// <item>Xen PV: a guest always runs with the real IOPL 0 and IF 1 (restore_all_guest), the
/// kernel in ring 1 (pv32pae) or 3 (pv64), so POPF never changes the real IF or IOPL, whatever
/// an iret frame asked for. CLI/STI #GP(0) into Xen, which emulates them as NOPs only when the
/// virtual IOPL admits the guest (emul-priv-op.c iopl_ok: kernel vCPL 1, user vCPL 3); at the
/// virtual IOPL 0 a domain starts with, the #GP(0) is bounced to the guest.</item>
/// </list>
/// HVM: user mode at IOPL 0 with IF set and with IF clear, then (the contrast that shows the
/// probe can see a change) user mode at IOPL 3, where POPF does change IF and CLI/STI run.
/// PV: the kernel, then user mode, also with IOPL 3 in exec_user's iret frame.
/// </summary>
[XtfTest("popf-iopl", Category.Functional, Environments.All, Title = "POPF, CLI and STI at CPL > IOPL")]
public sealed class PopfIopl : TestCase
{
    private static readonly ExInfo GeneralProtection0 = ExInfo.Fault(X86Vector.GP, 0);

    public override void Main()
    {
        if (Environment is Environments.Pv32Pae or Environments.Pv64)
            TestPv();
        else
            TestHvm();

        if (!StatusReported)
            Success();
    }

    private void TestHvm()
    {
        // CPL 3 > IOPL 0, IF = 1: POPF clearing IF leaves it set.
        InUser(andMask: ~(ulong)RFlags.IOPL, orMask: RFlags.IF, () =>
        {
            ExpectPopfKeeps("user, IOPL 0, IF=1", RFlags.IF, "IF");
            ExpectPopfKeeps("user, IOPL 0", RFlags.IOPL, "IOPL");
            ExpectFault("user, IOPL 0", "cli", a => a.cli(), GeneralProtection0);
            ExpectFault("user, IOPL 0", "sti", a => a.sti(), GeneralProtection0);
        });

        // CPL 3 > IOPL 0, IF = 0: POPF setting IF leaves it clear.
        InUser(andMask: ~(ulong)(RFlags.IOPL | RFlags.IF), orMask: 0, () =>
            ExpectPopfKeeps("user, IOPL 0, IF=0", RFlags.IF, "IF"));

        // CPL 3 = IOPL 3: POPF changes IF (SDM: CPL <= IOPL); IOPL still not (CPL > 0); CLI/STI execute.
        InUser(andMask: ~0ul, orMask: RFlags.IOPL, () =>
        {
            var (before, after, fault) = PopfToggle(RFlags.IF);
            if (fault != ExInfo.None)
                Failure($"Fail (user, IOPL 3): POPF raised {fault}\n");
            else if (((before ^ after) & RFlags.IF) == 0)
                Failure($"Fail (user, IOPL 3): POPF did not change IF (flags {before:x8} -> {after:x8})\n");
            ExpectPopfKeeps("user, IOPL 3", RFlags.IOPL, "IOPL");
            ExpectFault("user, IOPL 3", "cli", a => a.cli(), ExInfo.None);
            ExpectFault("user, IOPL 3", "sti", a => a.sti(), ExInfo.None);
        });
    }

    private void TestPv()
    {
        // The kernel: ring 1 or 3 with the real IOPL 0; vIOPL 0, kernel vCPL 1.
        ExpectPopfKeeps("kernel", RFlags.IF, "IF");
        ExpectPopfKeeps("kernel", RFlags.IOPL, "IOPL");
        ExpectFault("kernel, vIOPL 0", "cli", a => a.cli(), GeneralProtection0);
        ExpectFault("kernel, vIOPL 0", "sti", a => a.sti(), GeneralProtection0);

        // User mode; then with IOPL 3 in the iret frame, which Xen does not give the real EFLAGS.
        foreach (var (what, orMask) in new[] { ("user", 0ul), ("user, frame IOPL 3", (ulong)RFlags.IOPL) })
        {
            InUser(andMask: ~(ulong)RFlags.IOPL, orMask, () =>
            {
                ExpectPopfKeeps(what, RFlags.IF, "IF");
                ExpectPopfKeeps(what, RFlags.IOPL, "IOPL");
                var (before, _, _) = PopfToggle(0);
                if ((before & RFlags.IOPL) != 0 || (before & RFlags.IF) == 0)
                    Failure($"Fail ({what}): PUSHF shows flags {before:x8}, expected the real IOPL 0 and IF 1\n");
                ExpectFault(what, "cli", a => a.cli(), GeneralProtection0);
                ExpectFault(what, "sti", a => a.sti(), GeneralProtection0);
            });
        }
    }

    /// <summary>Runs <paramref name="body"/> at CPL 3 with exec_user's EFLAGS masks set; host code inside runs "in user mode".</summary>
    private void InUser(ulong andMask, ulong orMask, Action body)
    {
        ExecUserEflagsAndMask = andMask;
        ExecUserEflagsOrMask = orMask;
        try
        {
            _ = ExecUser(() =>
            {
                body();
                return 0;
            });
        }
        finally
        {
            ExecUserEflagsAndMask = ~0ul;
            ExecUserEflagsOrMask = 0;
        }
    }

    /// <summary>At the current CPL: PUSHF, then POPF of those flags with <paramref name="toggle"/> flipped, then PUSHF: (before, after, fault).</summary>
    private (uint Before, uint After, ExInfo Fault) PopfToggle(uint toggle)
    {
        void Probe(Assembler a)
        {
            if (a.Bitness == 64)
            {
                a.pushfq();
                a.pop(rax);
                a.mov(rdx, rax);
                a.xor(rdx, (int)toggle);
                a.push(rdx);
                a.popfq();
                a.pushfq();
                a.pop(rdx);
            }
            else
            {
                a.pushfd();
                a.pop(eax);
                a.mov(edx, eax);
                a.xor(edx, (int)toggle);
                a.push(edx);
                a.popfd();
                a.pushfd();
                a.pop(edx);
            }
        }

        var r = ExecDetailed(Probe);
        return (r.Eax, r.Edx, r.Fault);
    }

    /// <summary>POPF at CPL &gt; IOPL flipping <paramref name="flag"/>: no exception, the flag unchanged.</summary>
    private void ExpectPopfKeeps(string what, uint flag, string name)
    {
        var (before, after, fault) = PopfToggle(flag);
        if (fault != ExInfo.None)
            Failure($"Fail ({what}): POPF changing {name} raised {fault}, expected no exception\n");
        else if (((before ^ after) & flag) != 0)
            Failure($"Fail ({what}): POPF changed {name} (flags {before:x8} -> {after:x8})\n");
    }

    private void ExpectFault(string what, string insn, Action<Assembler> code, ExInfo expected)
    {
        var got = Exec(code);
        if (got != expected)
            Failure($"Fail ({what} {insn}): got {(got == ExInfo.None ? "no exception" : got.ToString())}, expected {(expected == ExInfo.None ? "no exception" : expected.ToString())}\n");
    }
}
