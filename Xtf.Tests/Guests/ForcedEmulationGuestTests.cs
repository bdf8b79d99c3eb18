using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Guests;

/// <summary>
/// The forced emulation prefix (Xen's hvm_fep): with the option on, the instruction after
/// <c>ud2; .ascii "xen"</c> is run by the hypervisor's emulator with the effects hardware would
/// have (faults saved at the instruction, traps after it, single-step); with it off, the prefix is
/// a plain UD2 (#UD at the prefix). XTF's probe and test_needs_fep follow the option.
/// </summary>
[TestFixture]
public sealed class ForcedEmulationGuestTests
{
    private static readonly Environments[] HvmEnvironments = [Environments.Hvm32, Environments.Hvm32Pse, Environments.Hvm32Pae, Environments.Hvm64];

    /// <summary>
    /// Runs <paramref name="before"/>, then <paramref name="insn"/> (behind the prefix if
    /// <paramref name="fep"/>), then a NOP. Returns the vector and error code the handler saw and
    /// the saved RIP as an offset from the start of <paramref name="insn"/> (lengths are measured
    /// by assembling the pieces, so no encoding is assumed).
    /// </summary>
    private static (int Vector, uint Error, long Offset) RunAt(int bitness, Func<Action<Assembler>, ExecFaults, ExtableHandler, ExecResult> exec, bool fep, Action<Assembler> before, Action<Assembler> insn)
    {
        long beforeLength = X86Assembly.Assemble(bitness, 0, before).Bytes.Length + (fep ? 5 : 0);
        (int, uint, long) seen = (-1, 0, long.MinValue);
        exec(a =>
        {
            // CALL pushes the address of the POP: RBX = that address, and the POP is one byte.
            var here = a.CreateLabel();
            a.call(here);
            a.Label(ref here);
            if (bitness == 64)
                a.pop(rbx);
            else
                a.pop(ebx);
            before(a);
            if (fep)
                a.Fep();
            insn(a);
            a.nop();
        }, ExecFaults.Record, (regs, entry) =>
        {
            seen = (regs.Vector, regs.ErrorCode, (long)(regs.Rip - regs.Rbx) - 1 - beforeLength);
            regs.Rflags &= ~(ulong)RFlags.TF;
            regs.Rip = entry.Fixup;
            return true;
        });
        return seen;
    }

    /// <summary>Faults and traps of an instruction behind the prefix, against the same instruction run natively.</summary>
    public sealed class EmulatedEffectsGuest : TestCase
    {
        private (int Vector, uint Error, long Offset) Run(bool fep, Action<Assembler> before, Action<Assembler> insn) =>
            RunAt(Bitness, (body, faults, handler) => ExecDetailed(body, faults, handler), fep, before, insn);

        public override void Main()
        {
            if (!XtfHasFep)
            {
                Failure("Fail: FEP not detected with hvm_fep on\n");
                return;
            }

            // The emulated instruction's result lands in the guest's registers.
            var r = ExecDetailed(a =>
            {
                a.Fep();
                a.mov(eax, 0x1E51C0DE);
            });
            if (r.Fault != ExInfo.None || r.Eax != 0x1E51C0DE)
                Failure($"Fail: emulated mov gave {r.Fault}, eax {r.Eax:x8}\n");

            foreach (bool fep in new[] { false, true })
            {
                string how = fep ? "emulated" : "native";

                // SDM vol. 3, 4.7: a read of the unmapped NULL page is #PF with error code 0 (not
                // present, read, supervisor); the frame saves the faulting instruction (after the prefix).
                if (Environment != Environments.Hvm32)
                {
                    var pf = Run(fep, _ => { }, a => a.mov(eax, __dword_ptr[0]));
                    if (pf.Vector != (int)X86Vector.PF || pf.Error != 0 || pf.Offset != 0)
                        Failure($"Fail: {how} read of NULL: vector {pf.Vector} error {pf.Error:x} saved at +{pf.Offset}\n");
                }

                // INT3 is a trap: the frame saves the next instruction.
                var bp = Run(fep, _ => { }, a => a.int3());
                if (bp.Vector != (int)X86Vector.BP || bp.Offset != 1)
                    Failure($"Fail: {how} int3: vector {bp.Vector} saved at +{bp.Offset}, expected after it (+1)\n");

                // UD2 behind the prefix is #UD at the UD2 itself, not another prefix.
                var ud = Run(fep, _ => { }, a => a.ud2());
                if (ud.Vector != (int)X86Vector.UD || ud.Offset != 0)
                    Failure($"Fail: {how} ud2: vector {ud.Vector} saved at +{ud.Offset}\n");

                // SDM vol. 3, 18.3.1.4: with TF set when an instruction starts, #DB (a trap) follows it.
                // POPF setting TF is not trapped itself; the NOP after it is.
                var db = Run(fep, a =>
                {
                    if (Bitness == 64)
                    {
                        a.pushfq();
                        a.or(__qword_ptr[rsp], 0x100);
                        a.popfq();
                    }
                    else
                    {
                        a.pushfd();
                        a.or(__dword_ptr[esp], 0x100);
                        a.popfd();
                    }
                }, a => a.nop());
                if (db.Vector != (int)X86Vector.DB || db.Offset != 1)
                    Failure($"Fail: {how} single-step: vector {db.Vector} saved at +{db.Offset}, expected after the nop (+1)\n");
            }

            Success();
        }
    }

    /// <summary>With the option off the prefix is a UD2: #UD saved at the prefix.</summary>
    public sealed class PrefixOffGuest : TestCase
    {
        public override void Main()
        {
            if (XtfHasFep)
                Failure("Fail: FEP detected with hvm_fep off\n");
            // The #UD is saved at the prefix: 5 bytes before the instruction after it.
            var ud = RunAt(Bitness, (body, faults, handler) => ExecDetailed(body, faults, handler), fep: true, _ => { }, a => a.nop());
            if (ud.Vector != (int)X86Vector.UD || ud.Offset != -5)
                Failure($"Fail: prefix without hvm_fep: vector {ud.Vector} saved at +{ud.Offset}, expected at the prefix (-5)\n");
            Success();
        }
    }

    public sealed class NeedsFepGuest : TestCase
    {
        protected override bool NeedsFep => true;

        public override void Main() => Success();
    }

    [TestCaseSource(nameof(HvmEnvironments))]
    public void EmulatedInstructionsHaveTheEffectsHardwareHas(Environments env)
    {
        var o = GuestHarness.Run<EmulatedEffectsGuest>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [TestCaseSource(nameof(HvmEnvironments))]
    public void WithoutHvmFepThePrefixIsUd2(Environments env)
    {
        var o = GuestHarness.Run<PrefixOffGuest>(env: env, settings: new RunSettings { Fep = false });
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    [Test]
    public void ATestThatNeedsFepSkipsWithXtfsMessageWhenItIsOff()
    {
        var off = GuestHarness.Run<NeedsFepGuest>(settings: new RunSettings { Fep = false });
        Assert.That(off.Result, Is.EqualTo(TestResult.Skip), off.ConsoleLog);
        Assert.That(off.ConsoleLog, Does.Contain("FEP unavailable, but needed by test. (Is Xen support\r\ncompiled in, and booted with 'hvm_fep'?)\r\n"));

        var on = GuestHarness.Run<NeedsFepGuest>();
        Assert.That(on.Result, Is.EqualTo(TestResult.Success), on.ConsoleLog);
    }

    [Test]
    public void TheFepUtilityReportsAvailability()
    {
        var fep = TestCatalog.FromTypes(typeof(Xtf.TestCases.Fep.Fep)).Find("fep") ?? throw new AssertionException("fep not in the catalog");
        var instance = new TestInstance(fep, Environments.Hvm32, null);
        Assert.That(new TestEngine().Run(instance).Result, Is.EqualTo(TestResult.Success));
        Assert.That(new TestEngine().Run(instance, new RunSettings { Fep = false }).Result, Is.EqualTo(TestResult.Failure));
    }
}
