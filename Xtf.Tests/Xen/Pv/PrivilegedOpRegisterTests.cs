using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// PV emulation of the system instructions (emul-priv-op.c read_cr/write_cr, x86emul_read_dr/
/// write_dr over set_debugreg, read_msr/write_msr, validate()): from the guest kernel only
/// (x86_emulate's mode_ring0 sees guest kernel mode as ring 0), #GP(0) from user mode.
/// </summary>
public sealed class PrivilegedOpRegisterTests
{
    private static readonly Environments[] Pv = [Environments.Pv64, Environments.Pv32Pae];

    private sealed class RegisterGuest : TestCase
    {
        private ExecResult Run(Action<Assembler> wide, Action<Assembler> narrow) => ExecDetailed(Bitness == 64 ? wide : narrow);

        private ulong Value(ExecResult r) => Bitness == 64 ? r.Rax : r.Eax;

        public override void Main()
        {
            Control();
            Debug();
            Msrs();
            Misc();
            Success();
        }

        private void Control()
        {
            var readCR0 = Run(a => a.mov(rax, cr0), a => a.mov(eax, cr0));
            ulong v = Value(readCR0);
            Printk($"cr0 {readCR0.Fault} pe{v & 1} pg{(v >> 31) & 1} ts{(v >> 3) & 1}\n");
            var ts = Run(a =>
            {
                a.mov(rax, cr0);
                a.or(rax, 8);
                a.mov(cr0, rax);
                a.mov(rax, cr0);
            }, a =>
            {
                a.mov(eax, cr0);
                a.or(eax, 8);
                a.mov(cr0, eax);
                a.mov(eax, cr0);
            });
            Printk($"cr0.ts {ts.Fault} ts{(Value(ts) >> 3) & 1}\n");
            Printk($"fpu {Exec(a => a.fninit())}\n");
            var clts = Run(a =>
            {
                a.clts();
                a.mov(rax, cr0);
            }, a =>
            {
                a.clts();
                a.mov(eax, cr0);
            });
            Printk($"clts {clts.Fault} ts{(Value(clts) >> 3) & 1}\n");
            Printk($"cr0.wp {Run(a =>
            {
                a.mov(rax, cr0);
                a.and(rax, ~0x10000);
                a.mov(cr0, rax);
            }, a =>
            {
                a.mov(eax, cr0);
                a.and(eax, ~0x10000);
                a.mov(cr0, eax);
            }).Fault}\n");

            var readCR2 = Run(a =>
            {
                a.mov(rax, 0x12345000);
                a.mov(cr2, rax);
                a.mov(rax, 0);
                a.mov(rax, cr2);
            }, a =>
            {
                a.mov(eax, 0x12345000);
                a.mov(cr2, eax);
                a.mov(eax, 0);
                a.mov(eax, cr2);
            });
            Printk($"cr2 {readCR2.Fault} {Value(readCR2):x}\n");

            var readCR3 = Run(a => a.mov(rax, cr3), a => a.mov(eax, cr3));
            Printk($"cr3 {readCR3.Fault} {Value(readCR3) == Runtime.StartOfDay!.PageTableBase}\n");

            var readCR4 = Run(a => a.mov(rax, cr4), a => a.mov(eax, cr4));
            Printk($"cr4 {readCR4.Fault} pae{(Value(readCR4) >> 5) & 1} tsd{(Value(readCR4) >> 2) & 1}\n");
            var tsd = Run(a =>
            {
                a.mov(rax, cr4);
                a.or(rax, 4);
                a.mov(cr4, rax);
                a.mov(rax, cr4);
            }, a =>
            {
                a.mov(eax, cr4);
                a.or(eax, 4);
                a.mov(cr4, eax);
                a.mov(eax, cr4);
            });
            Printk($"cr4.tsd {tsd.Fault} tsd{(Value(tsd) >> 2) & 1}\n");
            Printk($"rdtsc tsd kernel {Exec(a => a.rdtsc())} user {ExecUser(a => a.rdtsc())}\n");
            Run(a =>
            {
                a.mov(rax, cr4);
                a.and(rax, ~4);
                a.mov(cr4, rax);
            }, a =>
            {
                a.mov(eax, cr4);
                a.and(eax, ~4);
                a.mov(cr4, eax);
            });
            Printk($"rdtsc user {ExecUser(a => a.rdtsc())}\n");
            if (Bitness == 64)
            {
                var before = Exec(a => a.rdfsbase(rax));
                Run(a =>
                {
                    a.mov(rax, cr4);
                    a.bts(rax, 16);
                    a.mov(cr4, rax);
                }, _ => { });
                var on = Exec(a => a.rdfsbase(rax));
                Run(a =>
                {
                    a.mov(rax, cr4);
                    a.btr(rax, 16);
                    a.mov(cr4, rax);
                }, _ => { });
                Printk($"rdfsbase before {before} fsgsbase on {on} off {Exec(a => a.rdfsbase(rax))}\n");
            }
            Printk($"user cr0 {ExecUser(a =>
            {
                if (a.Bitness == 64)
                    a.mov(rax, cr0);
                else
                    a.mov(eax, cr0);
            })}\n");
        }

        private void Debug()
        {
            // XSA-213's PoC: mov %rsp,%dr0 ... mov %dr0,%rsp in the PV kernel.
            var readDR0 = Run(a =>
            {
                a.mov(rbx, rsp);
                a.mov(dr0, rsp);
                a.mov(rsp, 0);
                a.mov(rsp, dr0);
                a.mov(rax, rsp);
                a.sub(rax, rbx);
            }, a =>
            {
                a.mov(ebx, esp);
                a.mov(dr0, esp);
                a.mov(esp, 0);
                a.mov(esp, dr0);
                a.mov(eax, esp);
                a.sub(eax, ebx);
            });
            Printk($"dr0 {readDR0.Fault} {Value(readDR0)}\n");
            var dr67 = Run(a =>
            {
                a.mov(rax, dr6);
                a.mov(rbx, dr7);
                a.mov(rcx, dr4);
                a.mov(rdx, dr5);
            }, a =>
            {
                a.mov(eax, dr6);
                a.mov(ebx, dr7);
                a.mov(ecx, dr4);
                a.mov(edx, dr5);
            });
            Printk($"dr6 {dr67.Fault} {dr67.Eax:x8} dr7 {dr67.Ebx:x8} dr4 {dr67.Ecx:x8} dr5 {dr67.Edx:x8}\n");
            if (Bitness == 64)
            {
                Printk($"dr0 xen {Exec(a =>
                {
                    a.mov(rax, 0xFFFF800000000000);
                    a.mov(dr0, rax);
                })}\n");
                Printk($"dr7 wide {Exec(a =>
                {
                    a.mov(rax, 1ul << 32);
                    a.mov(dr7, rax);
                })}\n");
            }

            Printk($"dr7 io {Run(a =>
            {
                a.mov(rax, 0x20001);
                a.mov(dr7, rax);
            }, a =>
            {
                a.mov(eax, 0x20001);
                a.mov(dr7, eax);
            }).Fault}\n");

            // Setting CR4.DE: this machine's CPUID has no DE, so pv_fixup_guest_cr4 drops it.
            Run(a =>
            {
                a.mov(rax, cr4);
                a.or(rax, 8);
                a.mov(cr4, rax);
            }, a =>
            {
                a.mov(eax, cr4);
                a.or(eax, 8);
                a.mov(cr4, eax);
            });
            var readDe = Run(a => a.mov(rax, cr4), a => a.mov(eax, cr4));
            Printk($"de cr4 de{(Value(readDe) >> 3) & 1}\n");
            Printk($"de dr4 {Exec(a =>
            {
                if (a.Bitness == 64)
                    a.mov(rax, dr4);
                else
                    a.mov(eax, dr4);
            })}\n");
            var io = Run(a =>
            {
                a.mov(rax, 0x80);
                a.mov(dr0, rax);
                a.mov(rax, 0x20001);
                a.mov(dr7, rax);
                a.mov(rax, 0);
                a.mov(dr6, rax);
                a.mov(rax, dr7);
            }, a =>
            {
                a.mov(eax, 0x80);
                a.mov(dr0, eax);
                a.mov(eax, 0x20001);
                a.mov(dr7, eax);
                a.mov(eax, 0);
                a.mov(dr6, eax);
                a.mov(eax, dr7);
            });
            Printk($"de dr7 {io.Fault} {io.Eax:x8}\n");
            HypercallPhysdevSetIopl(1);
            Printk($"de out80 {Exec(a => a.@out(0x80, al))} out81 {Exec(a => a.@out(0x81, al))}\n");
            var readDR6 = Run(a => a.mov(rax, dr6), a => a.mov(eax, dr6));
            Printk($"de dr6 {readDR6.Fault} {readDR6.Eax & 0xF:x}\n");
            HypercallPhysdevSetIopl(0);
            Run(a =>
            {
                a.mov(rax, 0);
                a.mov(dr7, rax);
                a.mov(rax, cr4);
                a.and(rax, ~8);
                a.mov(cr4, rax);
            }, a =>
            {
                a.mov(eax, 0);
                a.mov(dr7, eax);
                a.mov(eax, cr4);
                a.and(eax, ~8);
                a.mov(cr4, eax);
            });
            Printk($"user dr0 {ExecUser(a =>
            {
                if (a.Bitness == 64)
                    a.mov(rax, dr0);
                else
                    a.mov(eax, dr0);
            })}\n");
        }

        private ExecResult Rdmsr(uint msr) => ExecDetailed(a =>
        {
            a.mov(ecx, msr);
            a.rdmsr();
        });

        private void Msrs()
        {
            var fs = ExecDetailed(a =>
            {
                a.mov(ecx, 0xC0000100);
                a.mov(eax, 0x01234000);
                a.mov(edx, 0);
                a.wrmsr();
                a.mov(eax, 0);
                a.rdmsr();
            });
            Printk($"fsbase {fs.Fault} {fs.Eax:x8}\n");
            Printk($"fsbase noncanonical {Exec(a =>
            {
                a.mov(ecx, 0xC0000100);
                a.mov(eax, 0);
                a.mov(edx, 0x00800000);
                a.wrmsr();
            })}\n");
            Exec(a =>
            {
                a.mov(ecx, 0xC0000100);
                a.xor(eax, eax);
                a.xor(edx, edx);
                a.wrmsr();
            });
            var efer = Rdmsr(0xC0000080);
            Printk($"efer {efer.Fault} lma{(efer.Eax >> 10) & 1} lme{(efer.Eax >> 8) & 1}\n");
            Printk($"unknown msr {Rdmsr(0x12345).Fault} write {Exec(a =>
            {
                a.mov(ecx, 0x12345);
                a.wrmsr();
            })}\n");
            Printk($"user rdmsr {ExecUser(a =>
            {
                a.mov(ecx, 0xC0000080);
                a.rdmsr();
            })}\n");
        }

        private void Misc()
        {
            Printk($"hlt {Exec(a => a.hlt())}\n");
            Printk($"wbinvd {Exec(a => a.wbinvd())} user {ExecUser(a => a.wbinvd())}\n");
            Printk($"user clts {ExecUser(a => a.clts())}\n");
        }
    }

    private static IReadOnlyList<string> Lines(Environments env)
    {
        var o = GuestHarness.Run<RegisterGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        return o.Lines;
    }

    /// <summary>
    /// read_cr(0): the hypervisor's CR0 (PE and PG set) with the guest's virtual TS; a write may
    /// change TS only (do_fpu_taskswitch, after which an x87 instruction is #NM), CLTS clears it,
    /// and a write changing WP is not emulated (#GP(0)).
    /// </summary>
    /// <summary>
    /// pv_make_cr4 (xen/arch/x86/pv/domain.c): a 64-bit PV guest's CR4.FSGSBASE is the
    /// processor's while it runs, so RDFSBASE is #UD until the guest sets it and after it clears it.
    /// </summary>
    [Test]
    public void Pv64Cr4FsgsbaseReachesTheProcessor() =>
        Assert.That(Lines(Environments.Pv64), Does.Contain("rdfsbase before #UD fsgsbase on nothing off #UD"));

    [TestCaseSource(nameof(Pv))]
    public void Cr0ShowsTheVirtualTsWhichAloneMayChange(Environments env)
    {
        var lines = Lines(env);
        Assert.That(lines, Does.Contain("cr0 nothing pe1 pg1 ts0").And.Contain("cr0.ts nothing ts1"));
        Assert.That(lines, Does.Contain("fpu #NM").And.Contain("clts nothing ts0").And.Contain("cr0.wp #GP[0000]"));
    }

    /// <summary>
    /// CR2 is the vCPU's; CR3 reads the kernel root as a guest CR3 (pv64: frame &lt;&lt; 12; compat:
    /// compat_pfn_to_cr3, the same for a frame below 2^20), here the start-of-day tables at
    /// their guest address (mfn == pfn, VA == pfn &lt;&lt; 12).
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void Cr2AndCr3ReadTheGuestsValues(Environments env) =>
        Assert.That(Lines(env), Does.Contain("cr2 nothing 12345000").And.Contain("cr3 nothing True"));

    /// <summary>
    /// CR4: the guest sees PAE (visible) and sets TSD (controllable), after which RDTSC at user
    /// mode is #GP(0) (SDM vol. 2, RDTSC: CR4.TSD and CPL &gt; 0) while the kernel's is emulated.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void Cr4TsdIsTheGuestsAndGovernsRdtsc(Environments env) =>
        Assert.That(Lines(env), Does.Contain("cr4 nothing pae1 tsd0").And.Contain("cr4.tsd nothing tsd1")
            .And.Contain("rdtsc tsd kernel nothing user #GP[0000]").And.Contain("rdtsc user nothing"));

    /// <summary>x86_emulate's mode_ring0: MOV from a control register in user mode is #GP(0).</summary>
    [TestCaseSource(nameof(Pv))]
    public void ControlRegistersFromUserModeAreGp0(Environments env) =>
        Assert.That(Lines(env), Does.Contain("user cr0 #GP[0000]"));

    /// <summary>XSA-213's PoC stashes the kernel stack pointer in DR0 and reads it back: the value round-trips (difference 0).</summary>
    [TestCaseSource(nameof(Pv))]
    public void Dr0RoundTripsTheKernelStackPointer(Environments env) =>
        Assert.That(Lines(env), Does.Contain("dr0 nothing 0"));

    /// <summary>
    /// DR6 reads its fixed ones (FFFF0FF0), DR7 bit 10 (00000400); without CR4.DE, DR4 and DR5
    /// alias them. pv64: a breakpoint in the hypervisor's range or a DR7 above 32 bits is
    /// -EPERM, hence #GP(0); an I/O breakpoint without CR4.DE likewise.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void DebugRegistersFollowSetDebugreg(Environments env)
    {
        var lines = Lines(env);
        Assert.That(lines, Does.Contain("dr6 nothing ffff0ff0 dr7 00000400 dr4 ffff0ff0 dr5 00000400"));
        Assert.That(lines, Does.Contain("dr7 io #GP[0000]").And.Contain("user dr0 #GP[0000]"));
        if (env == Environments.Pv64)
            Assert.That(lines, Does.Contain("dr0 xen #GP[0000]").And.Contain("dr7 wide #GP[0000]"));
    }

    /// <summary>
    /// pv_fixup_guest_cr4 drops controllable bits the guest's CPUID lacks: this machine has no DE
    /// (CPUID.1:EDX bit 2), so CR4.DE stays clear, DR4 still aliases DR6, and an I/O breakpoint
    /// (DR0 = 0x80, L0, R/W0 = 10b) is -EPERM, hence #GP(0), with DR7 unchanged; OUT then
    /// raises no #DB.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void WithoutDeInCpuidIoBreakpointsAreRefused(Environments env)
    {
        var lines = Lines(env);
        Assert.That(lines, Does.Contain("de cr4 de0").And.Contain("de dr4 nothing").And.Contain("de dr7 #GP[0000] 00020001"));
        Assert.That(lines, Does.Contain("de out80 nothing out81 nothing").And.Contain("de dr6 nothing 0"));
    }

    /// <summary>
    /// read_msr/write_msr: pv64 has FS_BASE (a canonical value round-trips; a non-canonical one
    /// is #GP(0)), a compat guest has not (#GP(0)); EFER shows LMA/LME to pv64 only; an MSR Xen
    /// does not implement is #GP(0); RDMSR from user mode is #GP(0).
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void MsrsArePvsSmallSet(Environments env)
    {
        var lines = Lines(env);
        if (env == Environments.Pv64)
            Assert.That(lines, Does.Contain("fsbase nothing 01234000").And.Contain("fsbase noncanonical #GP[0000]").And.Contain("efer nothing lma1 lme1"));
        else
        {
            Assert.That(lines, Has.Some.StartsWith("fsbase #GP[0000]"));
            Assert.That(lines, Does.Contain("efer nothing lma0 lme0"));
        }

        Assert.That(lines, Does.Contain("unknown msr #GP[0000] write #GP[0000]").And.Contain("user rdmsr #GP[0000]"));
    }

    /// <summary>
    /// validate() does not admit HLT (bounced #GP(0)); WBINVD from the kernel is ignored for a
    /// domain without cache-flush permission, from user mode #GP(0); CLTS from user mode #GP(0).
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void HltIsNotEmulatedAndWbinvdIsIgnored(Environments env)
    {
        var lines = Lines(env);
        Assert.That(lines, Does.Contain("hlt #GP[0000]").And.Contain("wbinvd nothing user #GP[0000]").And.Contain("user clts #GP[0000]"));
    }
}
