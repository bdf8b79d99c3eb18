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
/// tests/xsa-204). SYSCALL, unlike most instructions, takes its single-step trap on the EFLAGS.TF
/// it leaves, not the one it started with. The #DB would come after the switch to CPL 0 and
/// before the kernel has switched stacks, so a kernel masks TF with IA32_FMASK. The test masks
/// TF in IA32_FMASK, sets TF at CPL 3 and forces a SYSCALL through the emulator: vulnerable, a
/// single #DB is raised at the start of the SYSCALL entry point; not vulnerable, none at all.
/// </summary>
[XtfTest("xsa-204", Category.Xsa, Environments.Hvm64, Title = "XSA-204 PoC", Guards = ["xsa-204"])]
public sealed class Xsa204 : TestCase
{
    private const int SyscallCs = HvmLayout.GdteAvail0, SyscallSs = SyscallCs + 1;
    private const int SysretCs32 = SyscallCs + 2, SysretSs = SyscallCs + 3, SysretCs64 = SyscallCs + 4;

    private int debugTraps;

    protected override bool NeedsFep => true;

    /// <summary>XTF's exception log: every #DB is counted and resumed (a trap: the saved RIP is the next instruction).</summary>
    public override bool UnhandledException(ExceptionFrame regs)
    {
        if (regs.Vector != (int)X86Vector.DB)
            return false;
        debugTraps++;
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
        ulong entry = AssembleKernelCode(a =>
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

        var fault = ExecUser(a =>
        {
            a.pushfq();
            a.or(__qword_ptr[rsp], (int)RFlags.TF);
            a.popfq();
            a.Fep();
            a.syscall();
        });
        if (fault != ExInfo.None)
            Failure($"Fail: user SYSCALL took {fault}\n");

        if (debugTraps != 0)
            Failure("Fail: Observed debug traps - vulnerable to XSA-204\n");
        else
            Success("Success: Not vulnerable to XSA-204\n");
    }
}
