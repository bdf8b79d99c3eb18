using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Umip;

/// <summary>
/// XTF's umip (tests/umip/main.c): User-Mode Instruction Prevention. With CR4.UMIP set, SGDT,
/// SIDT, SLDT, STR and SMSW raise #GP(0) when executed at CPL &gt; 0, so user code cannot read
/// the descriptor-table registers or the machine status word (SDM vol. 3, 2.5). Each instruction
/// runs at CPL 0 and CPL 3, natively and through the forced emulation prefix (the hypervisor's
/// emulator must apply the same check), with UMIP off, on, and off again. Where CPUID does not
/// enumerate UMIP, setting CR4.UMIP must fail. An emulator that does not know an instruction
/// (#UD through FEP, as in older Xen) is tolerated with a skip.
/// </summary>
[XtfTest("umip", Category.Functional, Environments.Hvm32 | Environments.Hvm64, Title = "User-Mode Instruction Prevention Tests")]
public sealed class Umip : TestCase
{
    private bool emulatorSkipReported;

    private (string Name, Action<Assembler, bool> Emit)[] Stubs =>
    [
        ("SGDT", (a, force) => StoreTable(a, force, sidt: false)),
        ("SIDT", (a, force) => StoreTable(a, force, sidt: true)),
        ("SLDT", (a, force) => { Prefix(a, force); a.sldt(eax); }),
        ("STR", (a, force) => { Prefix(a, force); a.str(eax); }),
        ("SMSW", (a, force) => { Prefix(a, force); a.smsw(eax); }),
    ];

    public override void Main()
    {
        if (!XtfHasFep)
            Skip("FEP support not detected - some tests will be skipped\n");

        TestUmip(umipActive: false);

        if (!CpuHas(CpuFeature.Umip))
        {
            Skip("UMIP is not supported, skip the rest of test\n");
            if (WriteCr4Safe(ReadCr4() | Cr4.UMIP))
                Failure("UMIP unsupported, but setting CR4 bit succeeded\n");
            return;
        }

        if (!WriteCr4Safe(ReadCr4() | Cr4.UMIP))
        {
            Failure("Fail: Unable to activate UMIP\n");
            return;
        }

        TestUmip(umipActive: true);

        if (!WriteCr4Safe(ReadCr4() & ~Cr4.UMIP))
        {
            Failure("Fail: Unable to deactivate UMIP\n");
            return;
        }

        TestUmip(umipActive: false);
        Success();
    }

    private void TestUmip(bool umipActive)
    {
        TestInsns(umipActive, force: false);
        if (XtfHasFep)
            TestInsns(umipActive, force: true);
    }

    /// <summary>Each stub in the kernel, then each at CPL 3: #GP(0) expected only at CPL 3 with UMIP active.</summary>
    private void TestInsns(bool umipActive, bool force)
    {
        foreach (bool user in new[] { false, true })
        {
            var expected = user && umipActive ? ExInfo.Fault(X86Vector.GP, 0) : ExInfo.None;
            foreach (var (name, emit) in Stubs)
            {
                var got = user ? ExecUser(a => emit(a, force)) : Exec(a => emit(a, force));

                // Tolerate an emulator that does not understand the instruction (older Xen).
                if (force && got == ExInfo.Fault(X86Vector.UD))
                {
                    if (!emulatorSkipReported)
                    {
                        Skip($"Skip: Emulator doesn't implement {name}\n");
                        emulatorSkipReported = true;
                    }

                    continue;
                }

                if (got != expected)
                {
                    Failure($"Fail: {(user ? "user" : "supervisor")} {name}\n" +
                            $"  expected {expected}\n" +
                            $"       got {got}\n");
                }
            }
        }
    }

    /// <summary>SGDT/SIDT to a descriptor-pointer buffer on the current stack.</summary>
    private void StoreTable(Assembler a, bool force, bool sidt)
    {
        if (Bitness == 64)
        {
            a.sub(rsp, 16);
            Prefix(a, force);
            if (sidt)
                a.sidt(__[rsp]);
            else
                a.sgdt(__[rsp]);
        }
        else
        {
            a.sub(esp, 8);
            Prefix(a, force);
            if (sidt)
                a.sidt(__[esp]);
            else
                a.sgdt(__[esp]);
        }
    }

    private static void Prefix(Assembler a, bool force)
    {
        if (force)
            a.Fep();
    }

    /// <summary>XTF's read_cr4.</summary>
    private ulong ReadCr4() => ExecDetailed(a =>
    {
        if (Bitness == 64)
            a.mov(rax, cr4);
        else
            a.mov(eax, cr4);
    }, ExecFaults.Unhandled).Rax;

    /// <summary>XTF's write_cr4_safe, returning true when the write did not fault.</summary>
    private bool WriteCr4Safe(ulong value) => Exec(a =>
    {
        if (Bitness == 64)
        {
            a.mov(rax, value);
            a.mov(cr4, rax);
        }
        else
        {
            a.mov(eax, (uint)value);
            a.mov(cr4, eax);
        }
    }) == ExInfo.None;
}
