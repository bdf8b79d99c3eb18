using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// XTF's runtime API in every HVM environment: exec_user_param, the unhandled-exception hook,
/// the exception log, inline asm with its own extable entries, xtf_set_idte, the spare GDT slots
/// and the hypercall wrappers. Each guest checks from inside the guest and reports FAILURE with
/// the reason.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class RuntimeApiGuestTests
{
    private static readonly Environments[] Hvm = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];

    private static bool Paged(Environments env) => env is Environments.Hvm32Pse or Environments.Hvm32Pae or Environments.Hvm64;

    /// <summary>
    /// exec_user_param: the body gets the parameter (all 64 bits in hvm64, where it travels in RDI;
    /// 32 bits elsewhere, pushed on the user stack), runs with CS.RPL = 3 (CPL 3, SDM vol. 3, 5.5)
    /// on the user stack, and its result comes back. Nested: x86 the body runs is at CPL 3 too.
    /// </summary>
    public sealed class ParamGuest : TestCase
    {
        public override void Main()
        {
            ulong param = Bitness == 64 ? 0x1_2345_6789ul : 0x1234_5678ul;
            ulong seen = 0, cpl = 0, stackPointer = 0;
            ulong result = ExecUser(p =>
            {
                seen = p;
                var r = ExecDetailed(a =>
                {
                    a.mov(eax, cs);
                    a.mov(ebx, esp);
                });
                cpl = r.Eax & 3;
                stackPointer = r.Ebx;
                return p + 1;
            }, param);
            if (seen != param || result != param + 1)
                Failure($"Fail: param {seen:x} result {result:x}, expected {param:x} and {param + 1:x}\n");
            if (cpl != 3)
                Failure($"Fail: body ran at CPL {cpl}\n");
            if (stackPointer < HvmLayout.UserStack || stackPointer >= HvmLayout.UserStackTop)
                Failure($"Fail: body's stack pointer {stackPointer:x8} is not on the user stack\n");
            if (ExecUser(() => 7) != 7)
                Failure("Fail: exec_user without a parameter\n");
            Success();
        }
    }

    /// <summary>
    /// With CR4.SMEP and CR4.SMAP on (paged environments), exec_user still works: its user text
    /// is written with STAC/CLAC and the kernel never executes user pages. A kernel read of a
    /// user page with EFLAGS.AC = 0 is then #PF with error code P only (0x01: present,
    /// supervisor, read; SDM vol. 3, 4.6.1 and 4.7), and with AC = 1 (STAC) it succeeds.
    /// </summary>
    public sealed class SmapGuest : TestCase
    {
        public override void Main()
        {
            Exec(a =>
            {
                if (Bitness == 64)
                {
                    a.mov(rax, cr4);
                    a.or(rax, (int)(Cr4.SMEP | Cr4.SMAP));
                    a.mov(cr4, rax);
                }
                else
                {
                    a.mov(eax, cr4);
                    a.or(eax, (int)(Cr4.SMEP | Cr4.SMAP));
                    a.mov(cr4, eax);
                }
            });
            if (ExecUser(p => p * 2, 21) != 42)
                Failure("Fail: exec_user_param under SMEP/SMAP\n");
            var r = ExecUserDetailed(a => a.mov(ebx, 0x600D));
            if (!r.Fault.IsNone || r.Ebx != 0x600D)
                Failure($"Fail: exec_user under SMEP/SMAP: {r.Fault}, EBX {r.Ebx:x}\n");
            var read = Exec(a => a.mov(eax, __dword_ptr[(uint)HvmLayout.UserData]));
            var expected = Paged(Environment) ? ExInfo.Fault(X86Vector.PF, 0x01) : ExInfo.None;
            if (read != expected)
                Failure($"Fail: kernel read of user data with AC=0: expected {expected}, got {read}\n");
            var withAc = Exec(a =>
            {
                a.stac();
                a.mov(eax, __dword_ptr[(uint)HvmLayout.UserData]);
                a.clac();
            });
            if (!withAc.IsNone)
                Failure($"Fail: kernel read of user data with AC=1: {withAc}\n");
            Success();
        }
    }

    /// <summary>
    /// xtf_unhandled_exception_hook: a UD2 with no extable entry reaches the hook with exinfo #UD
    /// and the saved IP at the UD2 (a fault: SDM vol. 3, 6.5); the hook's fixup resumes after it.
    /// A hook returning false passes the exception on to the test's UnhandledException override.
    /// </summary>
    public sealed class HookGuest : TestCase
    {
        private ExInfo overrideSaw;

        public override bool UnhandledException(ExceptionFrame regs)
        {
            overrideSaw = regs.ExInfo;
            regs.Rip += 2;
            return true;
        }

        public override void Main()
        {
            ExInfo hookSaw = ExInfo.None;
            ulong faultIp = 0, expectedIp = 0;
            var r = ExecAsm((a, ex) =>
            {
                var fault = a.CreateLabel();
                var fixup = a.CreateLabel();
                a.xor(ebx, ebx);
                a.Label(ref fault);
                a.ud2();
                a.mov(ebx, 1);
                a.Label(ref fixup);
                a.nop();
                UnhandledExceptionHook = regs =>
                {
                    hookSaw = regs.ExInfo;
                    faultIp = regs.Rip;
                    expectedIp = ex.AddressOf(fault);
                    regs.Rip = ex.AddressOf(fixup);
                    return true;
                };
            });
            if (hookSaw != ExInfo.Fault(X86Vector.UD) || faultIp != expectedIp || r.Ebx != 0)
                Failure($"Fail: hook saw {hookSaw} at {faultIp:x}, expected #UD at {expectedIp:x}; EBX {r.Ebx}\n");

            UnhandledExceptionHook = _ => false;
            ExecAsm((a, _) => a.ud2());
            UnhandledExceptionHook = null;
            if (overrideSaw != ExInfo.Fault(X86Vector.UD))
                Failure($"Fail: the override after a declining hook saw {overrideSaw}\n");
            Success();
        }
    }

    /// <summary>
    /// _ASM_TRAP_OK: INT3 is a trap whose saved IP is the next instruction (SDM vol. 3, 6.5), so
    /// an entry there resumes the snippet, which goes on to set EBX; the log has the #BP.
    /// </summary>
    public sealed class TrapOkGuest : TestCase
    {
        public override void Main()
        {
            ExlogStart();
            var r = ExecAsm((a, ex) =>
            {
                var after = a.CreateLabel();
                a.xor(ebx, ebx);
                a.int3();
                a.Label(ref after);
                a.mov(ebx, 0x600D);
                ex.TrapOk(after);
            });
            ExlogStop();
            if (r.Ebx != 0x600D)
                Failure($"Fail: the snippet did not continue after int3: EBX {r.Ebx:x}\n");
            if (ExlogEntries != 1 || ExlogEntry(0) is not { Vector: 3, ErrorCode: 0 })
                Failure($"Fail: exlog has {ExlogEntries} entries, first {ExlogEntry(0)}\n");
            Success();
        }
    }

    /// <summary>XTF's exlog holds eight entries; the ninth exception prints "Exception log full", dumps the log and panics.</summary>
    public sealed class ExlogFullGuest : TestCase
    {
        public override void Main()
        {
            ExlogStart();
            for (int i = 0; i < 9; i++)
                Exec(a => a.ud2());
            Success();
        }
    }

    /// <summary>
    /// xtf_set_idte at X86_VEC_AVAIL (0x21): with DPL 3, INT 0x21 from CPL 3 reaches the ring-0
    /// handler (SDM vol. 3, 6.12.1.1: gate DPL ≥ CPL), which returns a value in EAX; with DPL 0
    /// the same INT is #GP with the IDT error code (0x21 &lt;&lt; 3) | 2 = 0x10A.
    /// </summary>
    public sealed class IdtGuest : TestCase
    {
        public override void Main()
        {
            ulong handler = AssembleKernelCode(a =>
            {
                a.mov(eax, 0x1E51C0DE);
                if (Bitness == 64)
                    a.iretq();
                else
                    a.iretd();
            });
            SetIdtEntry(X86VecAvail, handler, dpl: 3);
            var r = ExecUserDetailed(a =>
            {
                a.xor(eax, eax);
                a.@int(X86VecAvail);
            });
            if (!r.Fault.IsNone || r.Eax != 0x1E51C0DE)
                Failure($"Fail: int $0x21 through a DPL 3 gate from CPL 3: {r.Fault}, EAX {r.Eax:x}\n");

            SetIdtEntry(X86VecAvail, handler, dpl: 0);
            var gp = ExecUser(a => a.@int(X86VecAvail));
            var expected = ExInfo.Fault(X86Vector.GP, 0x10A);
            if (gp != expected)
                Failure($"Fail: int $0x21 through a DPL 0 gate from CPL 3: expected {expected}, got {gp}\n");
            Success();
        }
    }

    /// <summary>
    /// The typed hypercall wrappers: XENVER_version returns major &lt;&lt; 16 | minor, which Xen also
    /// reports in EAX of CPUID leaf base + 1; SCHEDOP_yield returns 0; hypercall_console_write's
    /// text reaches the hypervisor console.
    /// </summary>
    public sealed class HypercallGuest : TestCase
    {
        public override void Main()
        {
            long version = HypercallXenVersion(XenVersionCommand.Version);
            uint cpuidVersion = Cpuid(0x40000001).Eax;
            if (version != cpuidVersion)
                Failure($"Fail: xen_version {version:x}, CPUID says {cpuidVersion:x}\n");
            long yield = HypercallYield();
            if (yield != 0)
                Failure($"Fail: yield returned {yield}\n");
            long written = HypercallConsoleWrite("console_io only\n");
            if (written != 0)
                Failure($"Fail: console write returned {written}\n");
            Success();
        }
    }

    /// <summary>GDTE_AVAIL0 and GDTE_AVAIL1 are XTF's slots 9 and 10; selector = index &lt;&lt; 3 | RPL (SDM vol. 3, 3.4.2).</summary>
    public sealed class GdtGuest : TestCase
    {
        public override void Main()
        {
            if (GdteAvail0 != 9 || GdteAvail1 != 10 || GdtSelector(GdteAvail1, 3) != 0x53)
                Failure("Fail: spare GDT slots\n");
            SetGdtEntry(GdteAvail1, Xtf.Core.Cpu.Segmentation.SegmentDescriptor.Data32(3));
            var r = ExecUserDetailed(a =>
            {
                a.mov(eax, GdtSelector(GdteAvail1, 3));
                a.mov(fs, ax);
                a.mov(ebx, fs);
            });
            if (!r.Fault.IsNone || (r.Ebx & 0xFFFF) != 0x53)
                Failure($"Fail: a DPL 3 data segment in GDTE_AVAIL1 from CPL 3: {r.Fault}, FS {r.Ebx & 0xFFFF:x4}\n");
            Success();
        }
    }

    /// <summary>
    /// hvm32's #DF arrives through a task gate; the frame do_exception gets holds the interrupted
    /// task's GPRs (saved by the task switch in the main TSS, SDM vol. 3, 7.3), not the #DF
    /// task's: EBX and ESI as the faulting code left them. #GP with a not-present #GP gate
    /// gives #NP, a contributory pair, so #DF (SDM vol. 3, table 6-5).
    /// </summary>
    public sealed class DoubleFaultRegistersGuest : TestCase
    {
        public override bool UnhandledException(ExceptionFrame regs)
        {
            Printk($"{regs.ExInfo} frame: EBX {regs.Ebx:x8} ESI {regs.Esi:x8}\n");
            return false;
        }

        public override void Main() => ExecDetailed(
            a =>
            {
                a.mov(ebx, 0xB0B0CAFE);
                a.mov(esi, 0x51515151);
                a.and(__byte_ptr[(uint)HvmLayout.Idt + (13 * 8) + 5], 0x7F);
                a.mov(ax, 0x100);
                a.mov(ds, ax);
            },
            ExecFaults.Unhandled);
    }

    private static void AssertSuccess<T>(Environments env)
        where T : TestCase, new()
    {
        var o = GuestHarness.Run<T>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [TestCaseSource(nameof(Hvm))]
    public void ExecUserParamPassesTheParameterRunsAtCplThreeAndReturnsTheResult(Environments env) => AssertSuccess<ParamGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void ExecUserWorksWithSmepAndSmapOnAndSmapStillFaultsKernelReads(Environments env) => AssertSuccess<SmapGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void UnhandledExceptionHookReceivesTheExinfoAndCanFixUp(Environments env) => AssertSuccess<HookGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void TrapOkResumesAfterInt3AndTheLogHasIt(Environments env) => AssertSuccess<TrapOkGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void CustomIdtEntryAtVectorAvailHonoursItsDpl(Environments env) => AssertSuccess<IdtGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void HypercallWrappersReachXen(Environments env)
    {
        var o = GuestHarness.Run<HypercallGuest>(env: env);
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
            Assert.That(o.HypervisorConsole, Does.Contain("console_io only\n"));
            Assert.That(o.ConsoleLog, Does.Not.Contain("console_io only"), "console_write goes to console_io alone, not the debug port");
        });
    }

    [TestCaseSource(nameof(Hvm))]
    public void SpareGdtSlotsAreUsableFromTests(Environments env) => AssertSuccess<GdtGuest>(env);

    [Test]
    public void NinthLoggedExceptionPanicsWithLogFull()
    {
        var o = GuestHarness.Run<ExlogFullGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Lines, Has.Some.EqualTo("Exception log full"));
            Assert.That(o.Lines, Has.Some.Match(@"^ exlog\[07\] 0010:[0-9a-f]{8} vec 6\[0000\]$"));
            Assert.That(o.Lines, Has.Some.EqualTo("PANIC: Exception log full"));
        });
    }

    [Test]
    public void DoubleFaultFrameHoldsTheFaultingTasksRegisters()
    {
        var o = GuestHarness.Run<DoubleFaultRegistersGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Lines, Has.Some.EqualTo("#DF[0000] frame: EBX b0b0cafe ESI 51515151"), o.ConsoleLog);
        });
    }
}
