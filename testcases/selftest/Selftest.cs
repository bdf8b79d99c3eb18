using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Selftest;

/// <summary>
/// XTF's selftest (tests/selftest/main.c): sanity tests of the framework itself; a failure here
/// points at the framework. In HVM with SMEP and SMAP turned on where the CPU has them, so that
/// exec_user is shown not to rely on supervisor access to user pages (upstream leaves CR4 alone
/// in PV, where the guest does not own it): the exception table (fixup and custom handler), the
/// exception log with "trap OK" entries, exec_user at CPL 3, NULL unmapped (every environment
/// with paging, PV included: arch_init_traps unmaps page 0 with update_va_mapping), the
/// unhandled-exception hook, and a custom IDT entry at X86_VEC_AVAIL (PV: a trap-table entry
/// with DPL 1, returning with HYPERVISOR_iret). Upstream's xenstore read and driver
/// initialisation (APIC, grant tables) are left out: our Xen model has no xenstore, local APIC
/// or grant tables yet.
/// </summary>
[XtfTest("selftest", Category.Special, Environments.All, Title = "XTF Selftests")]
public sealed class Selftest : TestCase
{
    private const ulong UserSeen = 1, UserBadCs = 2;

    public override void Main()
    {
        if (!Runtime.IsPv)
            EnableSmepSmap();
        TestExtable();
        TestExlog();
        TestExecUser();
        if (Environment is not Environments.Hvm32)
            TestNullUnmapped();
        TestUnhandledExceptionHook();
        TestExtableHandler();
        TestCustomIdte();
        Success();
    }

    /// <summary>Wherever possible, CR4.SMEP and CR4.SMAP on (SDM vol. 3, 4.6.1), by MOV to CR4 in the guest.</summary>
    private void EnableSmepSmap()
    {
        ulong set = (CpuHas(CpuFeature.Smep) ? Cr4.SMEP : 0) | (CpuHas(CpuFeature.Smap) ? Cr4.SMAP : 0);
        if (set == 0)
            return;
        Exec(a =>
        {
            if (Bitness == 64)
            {
                a.mov(rax, cr4);
                a.or(rax, (int)set);
                a.mov(cr4, rax);
            }
            else
            {
                a.mov(eax, cr4);
                a.or(eax, (int)set);
                a.mov(cr4, eax);
            }
        });
    }

    /// <summary>A UD2 with an extable entry resumes at its fixup (<c>1: ud2a; 2: _ASM_EXTABLE(1b, 2b)</c>).</summary>
    private void TestExtable()
    {
        Printk("Test: Exception Table\n");
        ExecAsm((a, ex) =>
        {
            var fault = a.CreateLabel();
            var fixup = a.CreateLabel();
            a.Label(ref fault);
            a.ud2();
            a.Label(ref fixup);
            a.nop();
            ex.Add(fault, fixup);
        });
    }

    private bool CheckNrEntries(int nr)
    {
        if (ExlogEntries == nr)
            return true;
        Failure($"Fail: expected {nr} entries, got {ExlogEntries}\n");
        return false;
    }

    private string Pointer(ulong value) => value.ToString(Bitness == 64 ? "x16" : "x8", System.Globalization.CultureInfo.InvariantCulture);

    private bool CheckExlogEntry(int index, ushort cs, ulong ip, X86Vector vector, uint ec)
    {
        if (ExlogEntry(index) is not { } e)
        {
            Failure($"Fail: unable to retrieve log entry {index}\n");
            return false;
        }

        if (e.Ip == ip && e.Cs == cs && e.ErrorCode == ec && e.Vector == (int)vector)
            return true;
        Failure("Fail: exlog entry:\n"
            + $"  Expected: {cs:x4}:{Pointer(ip)}, ec {ec:x4}, vec {(int)vector}\n"
            + $"       Got: {e.Cs:x4}:{Pointer(e.Ip)}, ec {e.ErrorCode:x4}, vec {e.Vector}\n");
        return false;
    }

    /// <summary>
    /// XTF's test_exlog: INT3 is a trap, so the saved IP is the next instruction, where
    /// _ASM_TRAP_OK puts its entry (SDM vol. 3, 6.5: a trap reports the instruction after);
    /// UD2 is a fault, logged at its own address; reset empties the log, stop keeps it and
    /// logs no more.
    /// </summary>
    private void TestExlog()
    {
        Printk("Test: Exception Logging\n");
        ushort kernelCs = Runtime.KernelCs;
        ExlogStart();
        try
        {
            if (!CheckNrEntries(0))
                return;

            ulong afterInt3 = ExecAsmAt(Int3TrapOk);
            if (!CheckNrEntries(1) || !CheckExlogEntry(0, kernelCs, afterInt3, X86Vector.BP, 0))
                return;

            ulong ud2At = ExecAsmAt((a, ex) =>
            {
                var fault = a.CreateLabel();
                var fixup = a.CreateLabel();
                a.Label(ref fault);
                a.ud2();
                a.Label(ref fixup);
                a.nop();
                ex.Add(fault, fixup);
                return fault;
            });
            if (!CheckNrEntries(2) || !CheckExlogEntry(1, kernelCs, ud2At, X86Vector.UD, 0))
                return;

            ExlogReset();
            if (!CheckNrEntries(0))
                return;

            ExecAsmAt(Int3TrapOk);
            if (!CheckNrEntries(1))
                return;

            ExlogStop();
            if (!CheckNrEntries(1))
                return;

            ExecAsmAt(Int3TrapOk);
            CheckNrEntries(1);
        }
        finally
        {
            ExlogReset();
            ExlogStop();
        }
    }

    /// <summary><c>int3; 1: _ASM_TRAP_OK(1b)</c>; returns label 1.</summary>
    private static Label Int3TrapOk(Assembler a, AsmExtable ex)
    {
        var after = a.CreateLabel();
        a.int3();
        a.Label(ref after);
        a.nop();
        ex.TrapOk(after);
        return after;
    }

    /// <summary>Runs an ExecAsm body and returns the address of the label it names (XTF's <c>extern ... asm(".Llabel")</c>).</summary>
    private ulong ExecAsmAt(Func<Assembler, AsmExtable, Label> body)
    {
        AsmExtable? table = null;
        Label label = default;
        ExecAsm((a, ex) =>
        {
            table = ex;
            label = body(a, ex);
        });
        return table!.AddressOf(label);
    }

    /// <summary>XTF's test_exec_user: the function runs with CS.RPL = 3, i.e. at CPL 3 (SDM vol. 3, 5.5).</summary>
    private void TestExecUser()
    {
        Printk("Test: Userspace execution\n");
        ulong res = ExecUser(() => (ExecDetailed(a => a.mov(eax, cs)).Eax & 3) == 3 ? UserSeen : UserBadCs);
        if (res == UserBadCs)
            Failure("Fail: Not at cpl3\n");
        else if (res != UserSeen)
            Failure("Fail: Did not execute function\n");
    }

    /// <summary>
    /// XTF's test_NULL_unmapped: page 0 is not mapped, so a kernel read of address 0 is #PF with
    /// error code 0 (not present, read, supervisor; SDM vol. 3, 4.7), logged at the MOV itself.
    /// </summary>
    private void TestNullUnmapped()
    {
        Printk("Test: NULL unmapped\n");
        ExlogStart();
        ulong movAt = ExecAsmAt((a, ex) =>
        {
            var load = a.CreateLabel();
            var done = a.CreateLabel();
            a.Label(ref load);
            a.mov(eax, __dword_ptr[0]);
            a.Label(ref done);
            a.nop();
            ex.Add(load, done);
            return load;
        });
        if (CheckNrEntries(1))
            CheckExlogEntry(0, Runtime.KernelCs, movAt, X86Vector.PF, 0);
        ExlogStop();
    }

    /// <summary>XTF's test_unhandled_exception_hook: a UD2 with no extable entry reaches the hook, which fixes it up.</summary>
    private void TestUnhandledExceptionHook()
    {
        Printk("Test: Unhandled Exception Hook\n");
        ExecAsm((a, ex) =>
        {
            var hookFault = a.CreateLabel();
            var hookFixup = a.CreateLabel();
            a.Label(ref hookFault);
            a.ud2();
            a.Label(ref hookFixup);
            a.nop();
            UnhandledExceptionHook = regs =>
            {
                if (regs.Rip != ex.AddressOf(hookFault))
                {
                    Failure($"Fail: Expected fault at {Pointer(ex.AddressOf(hookFault))}, got {Pointer(regs.Rip)}\n");
                    return false;
                }

                regs.Rip = ex.AddressOf(hookFixup);
                return true;
            };
        });
        UnhandledExceptionHook = null;
    }

    /// <summary>XTF's test_extable_handler: an extable entry's handler runs and moves IP to the fixup.</summary>
    private void TestExtableHandler()
    {
        Printk("Test: Exception Table Handler\n");
        bool handlerRun = false;
        ExecAsm((a, ex) =>
        {
            var fault = a.CreateLabel();
            var fixup = a.CreateLabel();
            a.Label(ref fault);
            a.ud2();
            a.Label(ref fixup);
            a.nop();
            ex.Add(fault, fixup, (regs, entry) =>
            {
                handlerRun = true;
                regs.Rip = entry.Fixup;
                return true;
            });
        });
        if (!handlerRun)
            Failure("Fail: Custom handler didn't run\n");
    }

    /// <summary>
    /// XTF's test_custom_idte: an entry at X86_VEC_AVAIL on __KERN_CS whose handler sets EAX and
    /// returns; <c>int $X86_VEC_AVAIL</c> from the kernel returns with EAX = 0x1E51C0DE.
    /// HVM: a DPL 0 interrupt gate, returning with IRET (IRETQ in hvm64: IA-32e delivery pushes
    /// five 8-byte slots, SDM vol. 3, 6.14.2). PV: a trap-table entry with DPL 1, because Xen
    /// admits INT n from the guest kernel only if the entry's DPL is at least 1 (permit_softint,
    /// "Level 0: noone; 1,2: kernel; 3: everyone"); the handler returns with HYPERVISOR_iret,
    /// pv64 first popping the RCX and R11 of Xen's bounce frame and pushing the flags word 0.
    /// </summary>
    private void TestCustomIdte()
    {
        Printk("Test: Custom IDT entry\n");
        bool pv = Runtime.IsPv;
        ulong handler = AssembleKernelCode(a =>
        {
            if (pv && Bitness == 64)
            {
                a.pop(rcx);
                a.pop(r11);
            }

            a.mov(eax, 0x1E51C0DE);
            if (pv)
            {
                if (Bitness == 64)
                    a.push(0);
                a.jmp(PvLayout.HypercallIret);
            }
            else if (Bitness == 64)
            {
                a.iretq();
            }
            else
            {
                a.iretd();
            }
        });
        SetIdtEntry(X86VecAvail, handler, dpl: pv ? 1 : 0);
        var r = ExecDetailed(a =>
        {
            a.xor(eax, eax);
            a.@int(X86VecAvail);
        });
        if (r.Eax != 0x1E51C0DE)
            Failure($"Fail: Unexpected result 0x{r.Eax:x}\n");
    }
}
