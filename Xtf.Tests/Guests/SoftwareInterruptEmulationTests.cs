using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The IDT checks the hypervisor's emulator makes before it injects a software interrupt (the
/// injection itself skips the gate-DPL check), each compared with the same instruction run by the
/// processor: the edge cases swint-emulation does not reach. SDM vol. 3, 6.12.1.1 and vol. 2,
/// INT n pseudo-code: the gate must lie within the IDT limit (16 bytes in IA-32e mode, 6.14.1)
/// and be an interrupt, trap or task gate, else #GP(IDT); INT n, INT3 and INTO then need gate
/// DPL &gt;= CPL (#GP(IDT)), ICEBP does not; then the gate must be present (#NP(IDT), EXT set
/// for ICEBP, 6.13). Faults save the instruction, traps the next one. A fault while the injected
/// interrupt is delivered is the instruction's fault, as when the processor runs it.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class SoftwareInterruptEmulationTests
{
    private static readonly Environments[] HvmEnvironments = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];

    public sealed class GateChecksGuest : TestCase
    {
        private const int EmptyVector = 0x30, LimitVector = 0x31, NullCsVector = 0x32;
        private const uint IdtrSave = (uint)HvmLayout.Scratch + 0xF00, IdtrShort = IdtrSave + 0x10;

        private int GateSize => Bitness == 64 ? 16 : 8;

        private uint Gate(int vector) => (uint)HvmLayout.Idt + (uint)(vector * GateSize);

        public override void Main()
        {
            if (!XtfHasFep)
            {
                Failure("Fail: FEP not detected with hvm_fep on\n");
                return;
            }

            // A descriptor of type 0 (not a gate) for the type check; a copy of the #BP gate (to
            // XTF's entry stub) for the limit check, so that only the limit can fault.
            Exec(a =>
            {
                for (int i = 0; i < GateSize; i += 4)
                {
                    a.mov(__dword_ptr[Gate(EmptyVector) + (uint)i], 0);
                    a.mov(eax, __dword_ptr[Gate((int)X86Vector.BP) + (uint)i]);
                    a.mov(__dword_ptr[Gate(LimitVector) + (uint)i], eax);
                    a.mov(__dword_ptr[Gate(NullCsVector) + (uint)i], eax);
                }

                a.mov(__word_ptr[Gate(NullCsVector) + 2], 0);
            });

            foreach (bool fep in new[] { false, true })
            {
                string how = fep ? "emulated" : "native";

                // ICEBP at CPL 3 through the DPL 0 #DB gate: no DPL check, a trap.
                SetAccess(X86Vector.DB, dpl: 0, present: true);
                Expect(how, "icebp at CPL 3, #DB gate DPL 0", Run(user: true, fep, [0xF1]), X86Vector.DB, 0, 1);

                // ICEBP through an absent gate: #NP with EXT set.
                SetAccess(X86Vector.DB, dpl: 0, present: false);
                Expect(how, "icebp, #DB gate absent", Run(user: false, fep, [0xF1]), X86Vector.NP, SelectorErrorCode.Idt(X86Vector.DB, external: true), 0);
                SetAccess(X86Vector.DB, dpl: 0, present: true);

                // INT3 at CPL 3 through a DPL 0 gate that is also absent: the DPL check comes first.
                SetAccess(X86Vector.BP, dpl: 0, present: false);
                Expect(how, "int3 at CPL 3, #BP gate DPL 0 and absent", Run(user: true, fep, [0xCC]), X86Vector.GP, SelectorErrorCode.Idt(X86Vector.BP), 0);
                SetAccess(X86Vector.BP, dpl: 3, present: true);

                // INT n through a descriptor that is not a gate.
                Expect(how, "int $0x30, not a gate", Run(user: false, fep, [0xCD, EmptyVector]), X86Vector.GP, SelectorErrorCode.Idt(EmptyVector), 0);

                // INT n through a gate the IDT limit covers only half of (hvm64: 8 of its 16 bytes).
                Exec(a =>
                {
                    a.sidt(__[IdtrSave]);
                    a.sidt(__[IdtrShort]);
                    a.mov(__word_ptr[IdtrShort], (LimitVector * GateSize) + (GateSize / 2) - 1);
                    a.lidt(__[IdtrShort]);
                });
                var beyond = Run(user: false, fep, [0xCD, LimitVector]);
                Exec(a => a.lidt(__[IdtrSave]));
                Expect(how, "int $0x31, gate partly beyond the IDT limit", beyond, X86Vector.GP, SelectorErrorCode.Idt(LimitVector), 0);

                // SDM vol. 2, INT n: a gate naming the null selector is #GP(EXT), EXT clear for
                // INT n. The fault is the instruction's: the saved EFLAGS has RF set (vol. 3, 18.3.1.1).
                var nullCs = Run(user: false, fep, [0xCD, NullCsVector]);
                Expect(how, "int $0x32, gate to the null selector", nullCs, X86Vector.GP, 0, 0);
                if (!nullCs.Rf)
                    Failure($"Fail: {how} int $0x32, gate to the null selector: RF clear in the saved EFLAGS\n");

                // Within the limit the same gate is delivered, to the #BP entry stub (which reports vector 3).
                Expect(how, "int $0x31", Run(user: false, fep, [0xCD, LimitVector]), X86Vector.BP, 0, 2);
            }

            Success();
        }

        private void Expect(string how, string what, (int Vector, uint Error, long Offset, bool Rf) got, X86Vector vector, uint error, long offset)
        {
            if ((got.Vector, got.Error, got.Offset) != ((int)vector, error, offset))
                Failure($"Fail: {how} {what}: vec {got.Vector}[{got.Error:x4}] at +{got.Offset}, expected vec {(int)vector}[{error:x4}] at +{offset}\n");
        }

        /// <summary>Rewrites the DPL and P bits of a gate's access byte, as a kernel store.</summary>
        private void SetAccess(X86Vector vector, int dpl, bool present) => Exec(a =>
        {
            uint access = Gate((int)vector) + 5;
            a.and(__byte_ptr[access], 0x1F);
            a.or(__byte_ptr[access], (dpl << 5) | (present ? 0x80 : 0));
        });

        /// <summary>
        /// Runs <paramref name="insn"/> (behind the prefix if <paramref name="fep"/>) at CPL 0 or
        /// 3; returns the vector, error code and saved IP as an offset from the instruction.
        /// </summary>
        private (int Vector, uint Error, long Offset, bool Rf) Run(bool user, bool fep, byte[] insn)
        {
            (int, uint, long, bool) seen = (-1, 0, long.MinValue, false);
            Action<Assembler> body = a =>
            {
                var here = a.CreateLabel();
                a.call(here);
                a.Label(ref here);
                if (Bitness == 64)
                    a.pop(rbx);
                else
                    a.pop(ebx);
                if (fep)
                    a.Fep();
                a.db(insn);
            };
            ExtableHandler record = (regs, entry) =>
            {
                long at = (long)(regs.Rip - (regs.Rbx & 0xFFFFFFFF)) - 1 - (fep ? 5 : 0);
                seen = (regs.Vector, regs.ErrorCode, at, (regs.Eflags & RFlags.RF) != 0);
                regs.Rip = entry.Fixup;
                return true;
            };
            if (user)
                ExecUserDetailed(body, handler: record);
            else
                ExecDetailed(body, handler: record);
            return seen;
        }
    }

    [TestCaseSource(nameof(HvmEnvironments))]
    public void EmulatorMakesTheIdtChecksHardwareMakes(Environments env)
    {
        var o = GuestHarness.Run<GateChecksGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }
}
