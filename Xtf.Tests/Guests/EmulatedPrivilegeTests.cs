using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The hypervisor's emulator on privileged instructions and far branches (fixed hypervisor, no
/// quirks): behind the forced emulation prefix each does what the processor does natively.
/// </summary>
[TestFixture]
public sealed class EmulatedPrivilegeTests
{
    private static readonly Environments[] Hvm = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];

    private static void AssertSuccess<T>(Environments env)
        where T : TestCase, new()
    {
        var o = GuestHarness.Run<T>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    /// <summary>
    /// SDM vol. 3, 5.9: LGDT, LIDT, LMSW and HLT are privileged: #GP(0) at CPL 3, with nothing
    /// changed, natively and through the emulator (operands are whatever lies on the user data
    /// page: the check comes first).
    /// </summary>
    public sealed class PrivilegedAtCplThreeGuest : TestCase
    {
        public override void Main()
        {
            uint data = (uint)HvmLayout.UserData;
            var cases = new (string Name, Action<Assembler> Insn)[]
            {
                ("lgdt", a => a.lgdt(__[data])),
                ("lidt", a => a.lidt(__[data])),
                ("lmsw", a => a.lmsw(ax)),
                ("hlt", a => a.hlt()),
            };
            var expected = ExInfo.Fault(X86Vector.GP, 0);
            foreach (var (name, insn) in cases)
            {
                var native = ExecUser(insn);
                var emulated = ExecUser(a =>
                {
                    a.Fep();
                    insn(a);
                });
                if (native != expected || emulated != expected)
                    Failure($"Fail: {name} at CPL 3: native {native}, emulated {emulated}, expected {expected}\n");
            }

            Success();
        }
    }

    /// <summary>
    /// SDM vol. 2, JMP: a far JMP to a nonconforming code segment needs DPL = CPL: at CPL 3 to
    /// the kernel's DPL 0 CS it is #GP(selector), error code the selector with RPL cleared, and
    /// the saved CS is still the user's; to a conforming DPL 0 segment (DPL &lt;= CPL) it is
    /// allowed, and CPL stays 3 (CS.RPL = 3). Native and emulated alike.
    /// </summary>
    public sealed class FarJumpGuest : TestCase
    {
        private const int ConformingSlot = HvmLayout.GdteAvail0;
        private const uint Pointer = (uint)HvmLayout.UserData;

        public override void Main()
        {
            SetGdtEntry(ConformingSlot, Bitness == 64 ? SegmentDescriptor.Code64(0, conforming: true) : SegmentDescriptor.Code32(0, conforming: true));
            ushort kernelCs = HvmLayout.KernelCsFor(Environment);
            foreach (bool fep in new[] { false, true })
            {
                string how = fep ? "emulated" : "native";
                var r = ExecUserDetailed(a => JumpToNextInstruction(a, kernelCs, fep));
                var expected = ExInfo.Fault(X86Vector.GP, kernelCs);
                if (r.Fault != expected || r.Ebx != 0)
                    Failure($"Fail: {how} far jmp at CPL 3 to the DPL 0 CS: {r.Fault}, CS after {r.Ebx:x4}, expected {expected}\n");

                ushort conforming = ConformingSlot << 3;
                r = ExecUserDetailed(a => JumpToNextInstruction(a, conforming, fep));
                if (r.Fault != ExInfo.None || r.Ebx != (conforming | 3u))
                    Failure($"Fail: {how} far jmp at CPL 3 to a conforming DPL 0 CS: {r.Fault}, CS after {r.Ebx:x4}, expected {conforming | 3:x4}\n");
            }

            Success();
        }

        /// <summary>
        /// A far JMP through an m16:32 pointer to <paramref name="selector"/>:the instruction after
        /// the JMP (flat segments, so the offset is its linear address), which records CS in EBX.
        /// The address comes from CALL/POP plus the measured length of the code between.
        /// </summary>
        private void JumpToNextInstruction(Assembler a, ushort selector, bool fep)
        {
            void Between(Assembler p, int distance)
            {
                p.add(ecx, distance);
                p.mov(__dword_ptr[Pointer], ecx);
                p.mov(__word_ptr[Pointer + 4], selector);
                if (fep)
                    p.Fep();
                p.jmp(__fword_ptr[Pointer]);
            }

            // POP is one byte; ADD r32, imm8 has the same length for every distance below 128.
            int distance = 1 + X86Assembly.Assemble(Bitness, 0, p => Between(p, 1)).Bytes.Length;
            var here = a.CreateLabel();
            a.xor(ebx, ebx);
            a.call(here);
            a.Label(ref here);
            if (Bitness == 64)
                a.pop(rcx);
            else
                a.pop(ecx);
            Between(a, distance);
            a.mov(ebx, cs);
        }
    }

    /// <summary>
    /// SDM vol. 2, RET, RETURN-TO-OUTER-PRIVILEGE-LEVEL: a far RET at CPL 0 to a CS with RPL 3
    /// pops EIP, CS, then ESP and SS, and runs at CPL 3 on that stack; data segments usable at
    /// CPL 3 stay loaded. Native and emulated alike. hvm32 only: without paging the landing code,
    /// in the kernel's snippet, may be fetched at CPL 3 (under paging it is a supervisor page).
    /// The landing code returns to the kernel through X86_VEC_RET2KERN as ExecUser's body does.
    /// </summary>
    public sealed class FarReturnOuterGuest : TestCase
    {
        private const uint UserEsp = (uint)HvmLayout.UserStackTop - 0x40;

        public override void Main()
        {
            foreach (bool fep in new[] { false, true })
            {
                string how = fep ? "emulated" : "native";
                var r = ExecDetailed(a => ReturnToUser(a, fep));
                if (r.Fault != ExInfo.None || r.Ebx != HvmLayout.UserCs || r.Ecx != HvmLayout.UserDs || r.Edx != UserEsp || r.Esi != HvmLayout.UserDs)
                    Failure($"Fail: {how} retf to CPL 3: {r.Fault}, CS {r.Ebx:x4} SS {r.Ecx:x4} ESP {r.Edx:x8} DS {r.Esi:x4}, expected {HvmLayout.UserCs:x4} {HvmLayout.UserDs:x4} {UserEsp:x8} {HvmLayout.UserDs:x4}\n");
            }

            Success();
        }

        private static void ReturnToUser(Assembler a, bool fep)
        {
            var enter = a.CreateLabel();
            var done = a.CreateLabel();
            var here = a.CreateLabel();
            a.call(enter);
            a.jmp(done);

            // As ExecUser's kernel side: the return address's stack pointer for entry_ret_to_kernel.
            a.Label(ref enter);
            a.mov(__dword_ptr[(uint)HvmLayout.ExecUserReturnSlot], esp);
            a.push(HvmLayout.UserDs);
            a.push((int)UserEsp);
            a.push(HvmLayout.UserCs);
            a.call(here);
            a.Label(ref here);

            // The return EIP: the address of `here` (on the stack) plus the bytes up to the landing.
            int distance = X86Assembly.Assemble(32, 0, p =>
            {
                p.add(__dword_ptr[esp], 1);
                if (fep)
                    p.Fep();
                p.retf();
            }).Bytes.Length;
            a.add(__dword_ptr[esp], distance);
            if (fep)
                a.Fep();
            a.retf();

            // CPL 3.
            a.mov(ebx, cs);
            a.mov(ecx, ss);
            a.mov(edx, esp);
            a.mov(esi, ds);
            a.@int(HvmLayout.VectorReturnToKernel);
            a.Label(ref done);
        }
    }

    /// <summary>
    /// SDM vol. 2, HLT: at CPL 0 the processor stops until an interrupt, NMI or reset, with EIP
    /// after the HLT. Nothing in this machine can wake it, so the emulated HLT ends the run as a
    /// native one does: no result line (CRASH), the halt named in the diagnostic.
    /// </summary>
    public sealed class HaltGuest : TestCase
    {
        public override void Main()
        {
            Exec(a =>
            {
                a.Fep();
                a.hlt();
            });
            Success();
        }
    }

    /// <summary>HLT at CPL 3 behind the prefix, for the quirk: the emulator lets it halt the vCPU.</summary>
    public sealed class UserHaltGuest : TestCase
    {
        public override void Main()
        {
            ExecUser(a =>
            {
                a.Fep();
                a.hlt();
            });
            Success();
        }
    }

    [Test]
    public void EmulatedHaltAtCplZeroHaltsTheVcpuLikeNative()
    {
        var o = GuestHarness.Run<HaltGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog);
            Assert.That(o.Diagnostic, Does.Contain("HLT at"), "the run ended in the halt");
        });
    }

    [Test]
    public void UnderQuirkXsa105EmulatedHaltAtCplThreeHaltsTheVcpu()
    {
        var fixedRun = GuestHarness.Run<UserHaltGuest>();
        var quirkRun = GuestHarness.Run<UserHaltGuest>(settings: new RunSettings { Quirks = new HashSet<Quirk> { Quirk.Xsa105 } });
        Assert.Multiple(() =>
        {
            Assert.That(fixedRun.Result, Is.EqualTo(TestResult.Success), fixedRun.ConsoleLog + fixedRun.Diagnostic);
            Assert.That(quirkRun.Result, Is.EqualTo(TestResult.Crash), quirkRun.ConsoleLog);
            Assert.That(quirkRun.Diagnostic, Does.Contain("HLT at"), "the run ended in the halt");
        });
    }

    /// <summary>
    /// SYSCALL with TF set at CPL 3 and IA32_FMASK leaving TF set: the single-step #DB is a trap
    /// taken at IA32_LSTAR on the SYSCALL CS (CPL 0), once, natively and through the emulator.
    /// With FMASK masking TF (xsa-204's case) there is none.
    /// </summary>
    public sealed class SyscallSingleStepGuest : TestCase
    {
        private const int SyscallCs = HvmLayout.GdteAvail0;
        private readonly List<(ulong Rip, ushort Cs)> traps = [];

        public override bool UnhandledException(ExceptionFrame regs)
        {
            if (regs.Vector != (int)X86Vector.DB)
                return false;
            traps.Add((regs.Rip, regs.Cs));
            regs.Rflags &= ~(ulong)RFlags.TF;
            return true;
        }

        public override void Main()
        {
            SetGdtEntry(SyscallCs, SegmentDescriptor.Code64(0));
            SetGdtEntry(SyscallCs + 1, SegmentDescriptor.Data32(0));
            SetGdtEntry(SyscallCs + 2, SegmentDescriptor.Code32(3));
            SetGdtEntry(SyscallCs + 3, SegmentDescriptor.Data32(3));
            SetGdtEntry(SyscallCs + 4, SegmentDescriptor.Code64(3));
            ulong entry = AssembleKernelCode(a =>
            {
                a.and(r11, ~(int)RFlags.TF);
                a.sysretq();
            });
            TryRdmsr(X86Cpu.MsrEfer, out ulong efer);
            TryWrmsr(X86Cpu.MsrEfer, efer | Efer.SCE);
            TryWrmsr(X86Cpu.MsrStar, ((ulong)(SyscallCs * 8) << 32) | ((ulong)(((SyscallCs + 2) * 8) + 3) << 48));
            TryWrmsr(X86Cpu.MsrLstar, entry);
            foreach (uint fmask in new[] { 0u, RFlags.TF })
            {
                foreach (bool fep in new[] { false, true })
                {
                    TryWrmsr(X86Cpu.MsrFmask, fmask);
                    traps.Clear();
                    var fault = ExecUser(a =>
                    {
                        a.pushfq();
                        a.or(__qword_ptr[rsp], (int)RFlags.TF);
                        a.popfq();
                        if (fep)
                            a.Fep();
                        a.syscall();
                    });
                    var expected = fmask == 0 ? [(entry, (ushort)(SyscallCs * 8))] : new List<(ulong, ushort)>();
                    if (fault != ExInfo.None || !traps.SequenceEqual(expected))
                        Failure($"Fail: {(fep ? "emulated" : "native")} syscall, FMASK {fmask:x}: {fault}, #DB at [{string.Join(", ", traps.Select(t => $"{t.Cs:x4}:{t.Rip:x}"))}]\n");
                }
            }

            Success();
        }
    }

    [Test]
    public void SyscallSingleStepFollowsTheTfItLeavesLikeNative() => AssertSuccess<SyscallSingleStepGuest>(Environments.Hvm64);

    [TestCaseSource(nameof(Hvm))]
    public void PrivilegedInstructionsAtCplThreeRaiseGpZeroLikeNative(Environments env) => AssertSuccess<PrivilegedAtCplThreeGuest>(env);

    [TestCaseSource(nameof(Hvm))]
    public void FarJumpChecksTheTargetCodeSegmentLikeNative(Environments env) => AssertSuccess<FarJumpGuest>(env);

    [Test]
    public void FarReturnToAnOuterLevelPopsTheStackLikeNative() => AssertSuccess<FarReturnOuterGuest>(Environments.Hvm32);
}
