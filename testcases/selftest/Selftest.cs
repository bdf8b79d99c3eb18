using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Selftest;

/// <summary>
/// XTF's selftest (tests/selftest/main.c at 453490d): sanity tests of the framework itself; a
/// failure here points at the framework. As upstream's test_main: in HVM, SMEP and SMAP on where
/// the CPU has them, so that exec_user is shown not to rely on supervisor access to user pages
/// (upstream leaves CR4 alone in PV, where the guest does not own it); then the exception table,
/// exec_user at CPL 3, NULL unmapped (every environment with paging, PV included:
/// arch_init_traps unmaps page 0 with update_va_mapping), the unhandled-exception hook, the
/// extable handler, a custom IDT entry at X86_VEC_AVAIL (PV: a trap-table entry with DPL 1,
/// returning with HYPERVISOR_iret), driver initialisation, vsnprintf's CRLF expansion, and the
/// xenstore read of "domid" when xenstore_init found a connected channel.
///
/// Where it still differs from upstream:
/// - Driver initialisation runs XTF's probes as XTF's code does them (<see cref="TestCase.ApicInit"/>,
///   <see cref="TestCase.HpetInit"/>, <see cref="TestCase.IoapicInit"/>): our HVM platform has no
///   local APIC (RDMSR of IA32_APIC_BASE faults), no HPET and no IO-APIC (their MMIO reads as all
///   ones), so each reports -ENODEV, which upstream accepts ("guests which have LAPIC emulation
///   disabled"); the x2APIC and the device paths past the probes are not reached here. The
///   grant-table page is a free page outside the image rather than XTF's bss page
///   (<see cref="TestCase.GnttabRaw"/>).
/// - vsnprintf: C# interpolation formats the text, so the three upstream cases ("\n", "%c" of
///   '\n', "%s" of "\n") all hand the same one-character string to XTF's output rule
///   (<see cref="Vsnprintf.Format(System.Span{byte}, string, uint)"/>); what is checked is the
///   expansion, the lengths and the NUL termination in a 4-byte buffer, not C's conversions.
/// - The xenstore client waits with SCHEDOP_yield where XTF polls the port, and reads the reply
///   into a C# string (up to its NUL) rather than XTF's static payload buffer.
/// - Exception logging is not tested: upstream dropped exlog (216cfe0 "XTF: Drop exlog"); NULL
///   unmapped records the fault as upstream's ex_record_fault_eax does.
/// </summary>
[XtfTest("selftest", Category.Special, Environments.All, Title = "XTF Selftests")]
public sealed class Selftest : TestCase
{
    private const ulong UserSeen = 1, UserBadCs = 2;
    private const int Enodev = 19;

    /// <summary>XTF's has_xenstore: true until test_driver_init's xenstore_init says otherwise.</summary>
    private bool hasXenstore = true;

    public override void Main()
    {
        if (!Runtime.IsPv)
            EnableSmepSmap();
        TestExtable();
        TestExecUser();
        if (Environment is not Environments.Hvm32)
            TestNullUnmapped();
        TestUnhandledExceptionHook();
        TestExtableHandler();
        TestCustomIdte();
        TestDriverInit();
        TestVsnprintfCrlf();
        if (hasXenstore)
            TestXenstore();
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

    private string Pointer(ulong value) => value.ToString(Bitness == 64 ? "x16" : "x8", System.Globalization.CultureInfo.InvariantCulture);

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
    /// error code 0 (not present, read, supervisor; SDM vol. 3, 4.7), recorded by the extable
    /// entry's handler as ex_record_fault_eax does.
    /// </summary>
    private void TestNullUnmapped()
    {
        Printk("Test: NULL unmapped\n");
        var got = ExecDetailed(a => a.mov(eax, __dword_ptr[0])).Fault;
        if (got != ExInfo.Fault(X86Vector.PF, 0))
            Failure($"Fail: Expected #PF, got {got}\n");
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

    /// <summary>
    /// XTF's test_driver_init: in HVM, apic_init(XAPIC) (tolerating -ENODEV, and x2APIC too if
    /// CPUID has it), hpet_init and ioapic_init (-ENODEV tolerated); then xenstore_init (sets
    /// has_xenstore; -ENODEV tolerated) and xtf_init_grant_table(1), which must work, and (2),
    /// which may be -ENODEV.
    /// </summary>
    private void TestDriverInit()
    {
        int rc;
        Printk("Test: Driver basic initialisation\n");
        if (!Runtime.IsPv)
        {
            rc = ApicInit(ApicMode.Xapic);
            if (rc != -Enodev)
            {
                if (rc != 0)
                    Failure($"Fail: apic_init(XAPIC) returned {rc}\n");
                if (CpuHas(CpuFeature.X2apic) && (rc = ApicInit(ApicMode.X2apic)) != 0)
                    Failure($"Fail: apic_init(X2APIC) returned {rc}\n");
            }

            rc = HpetInit();
            if (rc != 0 && rc != -Enodev)
                Failure($"Fail: hpet_init() returned {rc}\n");
            rc = IoapicInit();
            if (rc != 0 && rc != -Enodev)
                Failure($"Fail: ioapic_init() returned {rc}\n");
        }

        rc = XenstoreInit();
        hasXenstore = rc == 0;
        if (rc != 0 && rc != -Enodev)
            Failure($"Fail: xenstore_init() returned {rc}\n");

        rc = XtfInitGrantTable(1);
        if (rc != 0)
            Failure($"Fail: xtf_init_grant_table(1) returned {rc}\n");
        rc = XtfInitGrantTable(2);
        if (rc != 0 && rc != -Enodev)
            Failure($"Fail: xtf_init_grant_table(2) returned {rc}\n");
    }

    /// <summary>
    /// XTF's test_vsnprintf_crlf_one: into a 4-byte buffer, plain vsnprintf gives "\n" (length 1)
    /// and vsnprintf_internal with LF_TO_CRLF gives "\r\n" (length 2), NUL-terminated.
    /// </summary>
    private void TestVsnprintfCrlfOne(string fmt, string formatted)
    {
        Span<byte> buf = stackalloc byte[4];
        int rc = Vsnprintf.Format(buf, formatted, 0);
        if (rc != 1)
        {
            Failure($"Fail: '{fmt}', expected length 1, got {rc}\n");
            return;
        }

        if (!buf[..2].SequenceEqual("\n\0"u8))
        {
            Failure($"Fail: '{fmt}', expected \"\\n\", got {Convert.ToHexString(buf).ToLowerInvariant()}\n");
            return;
        }

        rc = Vsnprintf.Format(buf, formatted, Vsnprintf.LfToCrlf);
        if (rc != 2)
        {
            Failure($"Fail: '{fmt}', expected length 2, got {rc}\n");
            return;
        }

        if (!buf[..3].SequenceEqual("\r\n\0"u8))
            Failure($"Fail: '{fmt}', expected \"\\r\\n\", got {Convert.ToHexString(buf).ToLowerInvariant()}\n");
    }

    /// <summary>XTF's test_vsnprintf_crlf: the LF from the format string, from %c and from %s.</summary>
    private void TestVsnprintfCrlf()
    {
        Printk("Test: vsnprintf() with CRLF expansion\n");
        TestVsnprintfCrlfOne("\\n", "\n");
        TestVsnprintfCrlfOne("%c", $"{'\n'}");
        TestVsnprintfCrlfOne("%s", $"{"\n"}");
    }

    /// <summary>XTF's test_xenstore: "domid" (relative: the domain's home) reads as a non-empty string of decimal digits.</summary>
    private void TestXenstore()
    {
        Printk("Test: Xenstore read\n");
        string? domid = XenstoreRead("domid");
        if (domid is null)
        {
            Failure("Fail: No domid value returned\n");
            return;
        }

        if (domid.Length == 0)
        {
            Failure("Fail: domid value empty\n");
            return;
        }

        if (domid.Any(c => c is < '0' or > '9'))
        {
            Failure($"Fail: unexpected domid value '{domid}'\n");
            return;
        }

        Printk($"  Found domid {domid}\n");
    }
}
