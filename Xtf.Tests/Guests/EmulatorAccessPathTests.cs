using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The HVM emulator makes an instruction's accesses through Xen's ops, not the processor's, for
/// instructions whose semantics it shares with the processor (ADD here, which it does not own):
/// each probe runs natively and behind the forced emulation prefix and logs
/// <c>probe NAME: native X emulated Y</c>. The two differ exactly where Xen's path differs from
/// the processor: x86_emulate makes no EFLAGS.AC alignment check (hvm/emulate.c and x86_emulate
/// have no #AC; the processor's is SDM vol. 3, 6.15 interrupt 17) and matches no data breakpoint
/// (no DR6 B-bit is set anywhere in x86_emulate or hvm/emulate.c; the processor's is SDM vol. 3,
/// 18.2.4); and Xen's walk of a PAE guest reads the four top-level entries from guest memory at
/// CR3 (mm/guest_walk.c guest_walk_tables, PAE: <c>top_map += cr3 &amp; ~(PAGE_MASK | 31)</c>),
/// where the processor uses the PDPTE registers loaded by the last MOV to CR3 (SDM vol. 3, 4.4.1).
/// </summary>
[TestFixture]
public sealed class EmulatorAccessPathTests
{
    private const ulong Cr0Am = 1ul << 18;
    private const uint EflagsAc = 1u << 18;

    /// <summary>Runs each probe natively, then behind the prefix, and logs both outcomes.</summary>
    public abstract class ProbeGuest : TestCase
    {
        protected void Probe(Func<Action<Assembler>, ExInfo> exec, string name, Action<Assembler> insn)
        {
            var native = exec(insn);
            var emulated = exec(a =>
            {
                a.Fep();
                insn(a);
            });
            Printk($"probe {name}: native {native} emulated {emulated}\n");
        }
    }

    /// <summary>hvm32 (flat, no paging): the alignment check at CPL 3 and a data breakpoint at CPL 0.</summary>
    public sealed class Hvm32Guest : ProbeGuest
    {
        public override void Main()
        {
            // CR0.AM with EFLAGS.AC at CPL 3: a doubleword read at an odd address.
            Exec(a =>
            {
                a.mov(eax, cr0);
                a.or(eax, (int)Cr0Am);
                a.mov(cr0, eax);
            });
            ExecUserEflagsOrMask = EflagsAc;
            Probe(ExecUser, "misaligned-user-read", a => a.add(eax, __dword_ptr[(uint)HvmLayout.UserData + 1]));
            ExecUserEflagsOrMask = 0;

            // DR0 on a doubleword of scratch, R/W = 11b (read or write), LEN = 11b (4 bytes), L0.
            ulong target = HvmLayout.Scratch + 0x40;
            Exec(a =>
            {
                a.mov(eax, (uint)target);
                a.mov(dr0, eax);
                a.mov(eax, 0x000F0001);
                a.mov(dr7, eax);
            });
            Probe(Exec, "data-breakpoint", a => a.add(eax, __dword_ptr[(uint)target]));
            Exec(a =>
            {
                a.xor(eax, eax);
                a.mov(dr7, eax);
            });
            Success();
        }
    }

    /// <summary>hvm32pae: PDPTE 3 (0xC0000000 up) made not-present in memory, without reloading CR3.</summary>
    public sealed class Hvm32PaeGuest : ProbeGuest
    {
        public override void Main()
        {
            // HvmPageTables.WritePae: the PDPT is at HvmLayout.PageTables; entry 3 maps 3-4 GiB.
            uint pdpte3 = (uint)HvmLayout.PageTables + 3 * 8;
            Exec(a =>
            {
                a.and(__dword_ptr[pdpte3], ~1);
            });
            Probe(Exec, "pdpte-in-memory", a => a.add(eax, __dword_ptr[0xC0000000u]));
            Exec(a =>
            {
                a.or(__dword_ptr[pdpte3], 1);
            });
            Success();
        }
    }

    private static IReadOnlyList<string> Lines<T>(Environments env)
        where T : TestCase, new()
    {
        var o = GuestHarness.Run<T>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        return o.Lines;
    }

    [Test]
    public void EmulatorMakesNoAlignmentCheck() =>
        Assert.That(Lines<Hvm32Guest>(Environments.Hvm32), Does.Contain("probe misaligned-user-read: native #AC[0000] emulated nothing"));

    [Test]
    public void EmulatorMatchesNoDataBreakpoint() =>
        Assert.That(Lines<Hvm32Guest>(Environments.Hvm32), Does.Contain("probe data-breakpoint: native #DB emulated nothing"));

    /// <summary>Not present in memory: Xen's walk faults #PF with error code 0 (XTF prints it -d-sr-: data, no RSVD, supervisor, read, not present); the processor's PDPTE register still maps the page (bus floats, no fault).</summary>
    [Test]
    public void EmulatorWalksPaePdptesInMemory() =>
        Assert.That(Lines<Hvm32PaeGuest>(Environments.Hvm32Pae), Does.Contain("probe pdpte-in-memory: native nothing emulated #PF[-d-sr-]"));
}
