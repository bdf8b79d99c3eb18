using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// ExecUser (XTF's exec_user) in every HVM environment: each guest checks, from inside the guest,
/// one consequence of the IRET to CPL 3 and the return through X86_VEC_RET2KERN, and reports
/// FAILURE with the reason if it does not hold.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class ExecUserGuestTests
{
    private static readonly Environments[] Hvm = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];

    private static bool Paged(Environments env) => env is Environments.Hvm32Pse or Environments.Hvm32Pae or Environments.Hvm64;

    /// <summary>
    /// The IRET frame reaches the body: CS = __USER_CS (hvm64: the 64-bit one, GDT slot 4, RPL 3 =
    /// 0x23; else slot 5 = 0x2B), so CPL = CS[1:0] = 3 (SDM vol. 3, 5.5); SS = __USER_DS (slot 6 =
    /// 0x33); ESP = the top of the user stack, as no push has happened yet. Back in the kernel, an
    /// Exec runs at CPL 0 on __KERN_CS again.
    /// </summary>
    public sealed class CplThreeGuest : TestCase
    {
        public override void Main()
        {
            var r = ExecUserDetailed(a =>
            {
                a.mov(eax, cs);
                a.mov(ebx, ss);
                a.mov(ecx, esp);
            });
            ushort userCs = Environment == Environments.Hvm64 ? (ushort)0x23 : (ushort)0x2B;
            if (!r.Fault.IsNone || (r.Eax & 0xFFFF) != userCs || (r.Ebx & 0xFFFF) != 0x33 || r.Ecx != (uint)HvmLayout.UserStackTop)
                Failure($"Fail: user frame: {r.Fault}, CS {r.Eax & 0xFFFF:x4} SS {r.Ebx & 0xFFFF:x4} ESP {r.Ecx:x8}, expected {userCs:x4} 0033 {HvmLayout.UserStackTop:x8}\n");
            var k = ExecDetailed(a => a.mov(eax, cs));
            if ((k.Eax & 0xFFFF) != HvmLayout.KernelCsFor(Environment))
                Failure($"Fail: back in the kernel: CS {k.Eax & 0xFFFF:x4}\n");
            Success();
        }
    }

    /// <summary>
    /// A fault in the body is recorded and the body ends there: UD2 is #UD, no error code (SDM
    /// vol. 2, UD), so the MOV after it does not run; the exception was taken from CPL 3 (the
    /// saved CS has RPL 3). MOV from CR0 at CPL 3 is #GP(0) (SDM vol. 2, MOV—Move to/from Control
    /// Registers). INT3 through the DPL 3 #BP gate is recorded as #BP. A second ExecUser after the
    /// faults still returns normally.
    /// </summary>
    public sealed class FaultGuest : TestCase
    {
        public override void Main()
        {
            var r = ExecUserDetailed(a =>
            {
                a.xor(ebx, ebx);
                a.ud2();
                a.mov(ebx, 1);
            });
            if (r.Fault != ExInfo.Fault(X86Vector.UD) || r.Ebx != 0)
                Failure($"Fail: ud2 at CPL 3: {r.Fault}, EBX {r.Ebx}, expected #UD and EBX 0\n");

            int savedRpl = -1;
            ExecUserDetailed(a => a.ud2(), handler: (regs, entry) =>
            {
                savedRpl = regs.Cs & 3;
                regs.Rip = entry.Fixup;
                return true;
            });
            if (savedRpl != 3)
                Failure($"Fail: the #UD frame's CS has RPL {savedRpl}, expected 3\n");

            // INT3 through XTF's DPL 3 #BP gate: a trap, recorded with the saved EIP after it (the end of the body).
            var bp = ExecUser(a => a.int3());
            if (bp != ExInfo.Fault(X86Vector.BP))
                Failure($"Fail: int3 at CPL 3: expected #BP, got {bp}\n");

            var gp = ExecUser(a =>
            {
                if (Bitness == 64)
                    a.mov(rax, cr0);
                else
                    a.mov(eax, cr0);
            });
            if (gp != ExInfo.Fault(X86Vector.GP, 0))
                Failure($"Fail: mov from cr0 at CPL 3: expected #GP[0000], got {gp}\n");

            var again = ExecUserDetailed(a => a.mov(esi, 0x600D));
            if (!again.Fault.IsNone || again.Esi != 0x600D)
                Failure($"Fail: ExecUser after faults: {again.Fault}, ESI {again.Esi:x}\n");
            Success();
        }
    }

    /// <summary>
    /// Only the user pages are user-accessible. With paging, a CPL 3 read of the kernel's data is
    /// #PF with error code P | U = 0x05 and a CPL 3 fetch from Exec's kernel snippets is #PF 0x05
    /// too (present, user; I/D stays clear with EFER.NXE = 0 and CR4.SMEP = 0: SDM vol. 3, 4.7);
    /// user data and the user stack are readable and writable from CPL 3. Without paging,
    /// the read of kernel data through the flat DPL 3 DS succeeds.
    /// </summary>
    public sealed class UserPagesGuest : TestCase
    {
        public override void Main()
        {
            bool paged = Paged(Environment);
            var read = ExecUser(a => a.mov(eax, __dword_ptr[(uint)HvmLayout.Data]));
            var expected = paged ? ExInfo.Fault(X86Vector.PF, 0x05) : ExInfo.None;
            if (read != expected)
                Failure($"Fail: CPL 3 read of kernel data: expected {expected}, got {read}\n");

            if (paged)
            {
                var fetch = ExecUser(a =>
                {
                    a.mov(eax, (uint)HvmLayout.Snippets);
                    if (Bitness == 64)
                        a.call(rax);
                    else
                        a.call(eax);
                });
                if (fetch != ExInfo.Fault(X86Vector.PF, 0x05))
                    Failure($"Fail: CPL 3 fetch from a kernel snippet: expected #PF[-d-UrP], got {fetch}\n");
            }

            var data = ExecUserDetailed(a =>
            {
                a.mov(__dword_ptr[(uint)HvmLayout.UserData], 0x5A5A5A5A);
                a.mov(ebx, __dword_ptr[(uint)HvmLayout.UserData]);
                a.push(0x1234);
                if (Bitness == 64)
                    a.pop(rcx);
                else
                    a.pop(ecx);
            });
            if (!data.Fault.IsNone || data.Ebx != 0x5A5A5A5A || data.Ecx != 0x1234)
                Failure($"Fail: user data and stack: {data.Fault}, EBX {data.Ebx:x8} ECX {data.Ecx:x}\n");
            Success();
        }
    }

    /// <summary>
    /// exec_user_efl_or_mask = IOPL 3: the body sees IOPL 3 in EFLAGS and CLI runs at CPL 3
    /// (SDM vol. 2, CLI: IOPL ≥ CPL clears IF); with the default (IOPL 0, CR4.PVI = 0) CLI at
    /// CPL 3 is #GP(0). The kernel's EFLAGS are the same after the call as before it.
    /// </summary>
    public sealed class IoplGuest : TestCase
    {
        public override void Main()
        {
            var denied = ExecUser(a => a.cli());
            if (denied != ExInfo.Fault(X86Vector.GP, 0))
                Failure($"Fail: cli at CPL 3 with IOPL 0: expected #GP[0000], got {denied}\n");

            ExecUserEflagsOrMask = RFlags.IOPL;
            var r = ExecUserDetailed(a =>
            {
                a.cli();
                if (Bitness == 64)
                {
                    a.pushfq();
                    a.pop(rax);
                }
                else
                {
                    a.pushfd();
                    a.pop(eax);
                }
            });
            ExecUserEflagsOrMask = 0;
            if (!r.Fault.IsNone || (r.Eax & RFlags.IOPL) != RFlags.IOPL)
                Failure($"Fail: cli at CPL 3 with IOPL 3: {r.Fault}, EFLAGS {r.Eax:x8}\n");

            var k = ExecDetailed(a =>
            {
                if (Bitness == 64)
                {
                    a.pushfq();
                    a.pop(rax);
                }
                else
                {
                    a.pushfd();
                    a.pop(eax);
                }
            });
            if ((k.Eax & RFlags.IOPL) != 0)
                Failure($"Fail: kernel EFLAGS after ExecUser: {k.Eax:x8}, expected IOPL 0\n");
            Success();
        }
    }

    /// <summary>
    /// exec_user_cs and exec_user_ss: the body runs on the test's own DPL 3 segments in the spare
    /// GDT slots 9 and 10 (selectors 0x4B and 0x53); in hvm64 slot 9 is a 32-bit code segment, so
    /// the body runs in compatibility mode, where 0x49 is DEC ECX (ECX 1 -> 0), not a REX prefix
    /// of the following NOP (SDM vol. 2, 2.2.1).
    /// </summary>
    public sealed class SegmentTunablesGuest : TestCase
    {
        public override void Main()
        {
            SetGdtEntry(HvmLayout.GdteAvail0, SegmentDescriptor.Code32(3));
            SetGdtEntry(HvmLayout.GdteAvail0 + 1, SegmentDescriptor.Data32(3));
            ExecUserCs = (HvmLayout.GdteAvail0 << 3) | 3;
            ExecUserSs = ((HvmLayout.GdteAvail0 + 1) << 3) | 3;
            var r = ExecUserDetailed(a =>
            {
                a.mov(ecx, 1);
                a.db(0x49);
                a.nop();
                a.mov(eax, cs);
                a.mov(ebx, ss);
            });
            ExecUserCs = 0;
            ExecUserSs = HvmLayout.UserDs;
            if (!r.Fault.IsNone || (r.Eax & 0xFFFF) != 0x4B || (r.Ebx & 0xFFFF) != 0x53 || r.Ecx != 0)
                Failure($"Fail: own segments: {r.Fault}, CS {r.Eax & 0xFFFF:x4} SS {r.Ebx & 0xFFFF:x4} ECX {r.Ecx}\n");
            Success();
        }
    }

    /// <summary>
    /// Every page of the image, read from CPL 3: the user gate page, user text, user data and the
    /// user stack are readable (U/S set at every level of the walk: SDM vol. 3, 4.6.1); every
    /// other page is #PF P | U (0x05), as is the first 2 MiB page above the split one.
    /// </summary>
    public sealed class ImageScanGuest : TestCase
    {
        public override void Main()
        {
            for (ulong page = HvmLayout.ImageBase; page <= 0x200000; page += 0x1000)
            {
                if (page >= HvmLayout.ImageEnd && page != 0x200000)
                    continue;
                bool user = page == HvmLayout.UserGates || (page >= HvmLayout.UserText && page < HvmLayout.UserStackTop);
                var expected = user ? ExInfo.None : ExInfo.Fault(X86Vector.PF, 0x05);
                var got = ExecUser(a => a.mov(eax, __dword_ptr[(uint)page]));
                if (got != expected)
                    Failure($"Fail: CPL 3 read of {page:x8}: expected {expected}, got {got}\n");
            }

            Success();
        }
    }

    /// <summary>A body may end with a label of its own (a forward jump to the end of the body), in ExecUser and Exec alike.</summary>
    public sealed class TrailingLabelGuest : TestCase
    {
        public override void Main()
        {
            static void Body(Iced.Intel.Assembler a)
            {
                var done = a.CreateLabel();
                a.mov(ebx, 1);
                a.jmp(done);
                a.mov(ebx, 2);
                a.Label(ref done);
            }

            var user = ExecUserDetailed(Body);
            var kernel = ExecDetailed(Body);
            if (!user.Fault.IsNone || user.Ebx != 1 || !kernel.Fault.IsNone || kernel.Ebx != 1)
                Failure($"Fail: trailing label: user {user.Fault} EBX {user.Ebx}, kernel {kernel.Fault} EBX {kernel.Ebx}\n");
            Success();
        }
    }

    private static void AssertSuccess<T>(Environments env)
        where T : TestCase, new()
    {
        var o = GuestHarness.Run<T>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [TestCaseSource(nameof(Hvm))]
    public void BodyRunsAtCplThreeOnTheUserFrameAndReturnsToTheKernel(Environments env) => AssertSuccess<CplThreeGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void FaultsAtCplThreeAreRecordedWithTheirVectorAndEndTheBody(Environments env) => AssertSuccess<FaultGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void OnlyUserPagesAreReachableFromCplThree(Environments env) => AssertSuccess<UserPagesGuest>(env);

    [TestCase(Environments.Hvm32Pse)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    public void ExactlyTheUserPagesOfTheImageAreUserAccessible(Environments env) => AssertSuccess<ImageScanGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void BodyMayEndWithALabel(Environments env) => AssertSuccess<TrailingLabelGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void IoplThreeOrMaskLetsCliRunAtCplThree(Environments env) => AssertSuccess<IoplGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void CsAndSsTunablesPickTheUserSegments(Environments env) => AssertSuccess<SegmentTunablesGuest>(env);
}
