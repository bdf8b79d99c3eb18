using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// SSE floating point natively and behind the forced emulation prefix, as XTF's xsa-451 and
/// xsa-470 use it: the hypervisor's emulator hands DIVSS/UCOMISS to the processor's semantics
/// and injects what they raise, so an unmasked SIMD exception reaches the guest as #XM at the
/// instruction with MXCSR's flags set (SDM vol. 1, 11.5.1), exactly as natively.
/// </summary>
[TestFixture]
public sealed class EmulatedSseTests
{
    /// <summary>Free RAM above the image for the MXCSR images.</summary>
    private const uint Scratch = 0x300000;

    /// <summary>Each case natively, then emulated: the exception, the MXCSR flags, the XMM0 bits 31:0 and the EFLAGS status bits.</summary>
    public sealed class SseGuest : TestCase
    {
        private const uint StatusFlags = RFlags.ZF | RFlags.PF | RFlags.CF | RFlags.OF | RFlags.SF | RFlags.AF;

        public override void Main()
        {
            if (!XtfHasFep)
            {
                Failure("Fail: no FEP\n");
                return;
            }

            Exec(a =>
            {
                a.mov(rax, cr4);
                a.or(rax, (int)(Cr4.OSFXSR | Cr4.OSXMMEXCPT));
                a.mov(cr4, rax);
            });

            foreach (bool fep in new[] { false, true })
            {
                string how = fep ? "emulated" : "native";

                // xsa-451: 0/0 with every exception unmasked is #XM and IE alone (vol. 1, 4.9.1.2).
                Check(how, "DIVSS 0/0 unmasked", Run(0, 0, fep, a => a.divss(xmm0, xmm0)), ExInfo.Fault(X86Vector.XM), 0x01, 0, null);

                // xsa-470: UCOMISS of the denormal 1 is #XM and DE alone (vol. 2, UCOMISS).
                Check(how, "UCOMISS denormal unmasked", Run(0, 1, fep, a => a.ucomiss(xmm0, xmm0)), ExInfo.Fault(X86Vector.XM), 0x02, 1, null);

                // Masked: 0/0 is the QNaN indefinite FFC00000H; a denormal compares equal (ZF), DE set.
                Check(how, "DIVSS 0/0 masked", Run(0x1F80, 0, fep, a => a.divss(xmm0, xmm0)), ExInfo.None, 0x01, 0xFFC00000, null);
                Check(how, "UCOMISS denormal masked", Run(0x1F80, 1, fep, a => a.ucomiss(xmm0, xmm0)), ExInfo.None, 0x02, 1, RFlags.ZF);
            }

            Success();
        }

        /// <summary>Loads MXCSR and XMM0 (from EAX), runs the probe (behind FEP if asked) and reads back MXCSR's flags and XMM0; EFLAGS are those at the probe's end.</summary>
        private (ExInfo Fault, uint Flags, uint Xmm0, uint Eflags) Run(uint mxcsr, uint xmm0Value, bool fep, Action<Iced.Intel.Assembler> probe)
        {
            var r = ExecDetailed(a =>
            {
                a.mov(__dword_ptr[Scratch], mxcsr);
                a.ldmxcsr(__dword_ptr[Scratch]);
                a.mov(eax, xmm0Value);
                a.movd(xmm0, eax);
                if (fep)
                    a.Fep();
                probe(a);
            });
            var after = ExecDetailed(a =>
            {
                a.stmxcsr(__dword_ptr[Scratch + 4]);
                a.mov(eax, __dword_ptr[Scratch + 4]);
                a.movd(ebx, xmm0);
            });
            return (r.Fault, after.Eax & 0x3F, after.Ebx, r.Eflags);
        }

        private void Check(string how, string name, (ExInfo Fault, uint Flags, uint Xmm0, uint Eflags) got, ExInfo fault, uint flags, uint xmm0Value, uint? status)
        {
            if (got.Fault != fault || got.Flags != flags || got.Xmm0 != xmm0Value || (status is { } s && (got.Eflags & StatusFlags) != s))
                Failure($"Fail: {how} {name}: {got.Fault}, MXCSR flags {got.Flags:x}, xmm0 {got.Xmm0:x}, EFLAGS {got.Eflags:x}; expected {fault}, {flags:x}, {xmm0Value:x}\n");
        }
    }

    [Test]
    public void NativeAndEmulatedSseAgree()
    {
        var o = GuestHarness.Run<SseGuest>(env: Environments.Hvm64);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }
}
