using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa204;

/// <summary>
/// XSA-204: "x86: Mishandling of SYSCALL singlestep during emulation" (upstream XTF
/// tests/xsa-204/main.c at 453490d). SYSCALL, unlike most instructions, takes its single-step
/// trap on the EFLAGS.TF it leaves, not the one it started with. The #DB would come after the
/// switch to CPL 0 and before the kernel has switched stacks, so a kernel masks TF with
/// IA32_FMASK. The test masks TF in IA32_FMASK, sets TF at CPL 3 and forces a SYSCALL through the
/// emulator: vulnerable, a single #DB is raised at the start of entry_SYSCALL_64; not
/// vulnerable, none at all.
///
/// As upstream, where the #DB lands is part of the check: only a #DB whose saved RIP is the entry
/// point's first instruction is recorded (upstream's <c>_ASM_EXTABLE_HANDLER(1b, 1b,
/// ex_record_fault_eax)</c> on it), into RAX, which the entry preserves through SYSRET and the user
/// function returns; a #DB anywhere else, or any other exception, has no handler and panics.
/// Differences from upstream: the record is made by the unhandled-exception path (our
/// kernel code assembled outside a snippet has no extable of its own), which matches the same
/// vector and RIP the extable entry would; the GDT entries are built fresh rather than copied from
/// gdt[__KERN_CS] and friends (the same descriptors); and if EFER.SCE or the SYSCALL MSRs cannot be
/// written, it reports FAILURE where upstream's wrmsr would take an unhandled #GP.
/// </summary>
[XtfTest("xsa-204", Category.Xsa, Environments.Hvm64, Title = "XSA-204 PoC", Guards = ["xsa-204"])]
public sealed class Xsa204 : TestCase
{
    private const int SyscallCs = HvmLayout.GdteAvail0, SyscallSs = SyscallCs + 1;
    private const int SysretCs32 = SyscallCs + 2, SysretSs = SyscallCs + 3, SysretCs64 = SyscallCs + 4;

    private ulong entrySyscall64;

    protected override bool NeedsFep => true;

    /// <summary>
    /// The extable entry on entry_SYSCALL_64's first instruction, with ex_record_fault_eax: a
    /// #DB whose saved RIP is exactly there is recorded in RAX (EXINFO: 1 &lt;&lt; 31 | vector &lt;&lt; 16 |
    /// error code) and resumes there; anything else is not handled (a panic, as upstream).
    /// </summary>
    public override bool UnhandledException(ExceptionFrame regs)
    {
        if (regs.Vector != (int)X86Vector.DB || regs.Rip != entrySyscall64)
            return false;
        regs.Rax = ExInfo.Fault(regs.Vector, regs.ErrorCode).Raw;
        return true;
    }

    public override void Main()
    {
        if (!CpuHas(CpuFeature.Syscall))
        {
            Skip("Skip: SYSCALL not suported\n");
            return;
        }

        // Enable SYSCALL/SYSRET.
        if (!TryRdmsr(X86Cpu.MsrEfer, out ulong efer) || !TryWrmsr(X86Cpu.MsrEfer, efer | Efer.SCE))
        {
            Failure("Fail: could not set EFER.SCE\n");
            return;
        }

        // Lay out the GDT for SYSCALL (CS, SS = CS + 8) and SYSRET (32-bit CS, SS = CS + 8, 64-bit CS = CS + 16).
        SetGdtEntry(SyscallCs, SegmentDescriptor.Code64(0));
        SetGdtEntry(SyscallSs, SegmentDescriptor.Data32(0));
        SetGdtEntry(SysretCs32, SegmentDescriptor.Code32(3));
        SetGdtEntry(SysretSs, SegmentDescriptor.Data32(3));
        SetGdtEntry(SysretCs64, SegmentDescriptor.Code64(3));

        // entry_SYSCALL_64: return with TF clear.
        ulong entry = entrySyscall64 = AssembleKernelCode(a =>
        {
            a.and(r11, ~(int)RFlags.TF);
            a.sysretq();
        });
        ulong star = ((ulong)(SyscallCs * 8) << 32) | ((ulong)((SysretCs32 * 8) + 3) << 48);
        if (!TryWrmsr(X86Cpu.MsrStar, star) || !TryWrmsr(X86Cpu.MsrLstar, entry) || !TryWrmsr(X86Cpu.MsrFmask, RFlags.TF))
        {
            Failure("Fail: could not set up the SYSCALL MSRs\n");
            return;
        }

        // user_force_syscall: the fault variable lives in RAX ("+a"), 0 unless recorded.
        var r = ExecUserDetailed(a =>
        {
            a.xor(eax, eax);
            a.pushfq();
            a.or(__qword_ptr[rsp], (int)RFlags.TF);
            a.popfq();
            a.Fep();
            a.syscall();
        });
        if (r.Fault != ExInfo.None)
        {
            Error($"Error: Expected nothing, got {r.Fault}\n");
            return;
        }

        var ex = new ExInfo((uint)r.Rax);
        if (ex == ExInfo.None)
            Success("Success: Not vulnerable to XSA-204\n");
        else if (ex == ExInfo.Fault(X86Vector.DB, 0))
            Failure("Fail: Got #DB - vulnerable to XSA-204\n");
        else
            Error($"Error: Expected nothing, got {ex}\n");
    }
}
