using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.SwintEmulation;

/// <summary>
/// XTF's swint-emulation: the exception frame of software interrupt instructions, natively and
/// through the hypervisor's instruction emulator (forced emulation prefix), in situations that
/// trap and that fault. Each of <c>int3</c> (CC), <c>int $3</c> (CD 03), <c>icebp</c> (F1),
/// <c>int $1</c> (CD 01) and <c>into</c> (CE) runs without and with a redundant address-size
/// prefix (67, which has no effect on them), each natively and forced through the emulator, in
/// these conditions:
/// <list type="bullet">
/// <item>CPL 0, gates present with DPL 3: traps, the frame saves the next instruction;</item>
/// <item>CPL 0, gates not present: #NP faults naming the IDT entry, EXT set for ICEBP only,
/// the frame saves the instruction (the 67 prefix, not the forced emulation prefix);</item>
/// <item>CPL 3, gates present with DPL 3: traps;</item>
/// <item>CPL 3, gates not present: #NP faults;</item>
/// <item>CPL 3, gates DPL 0: #GP faults naming the IDT entry, except ICEBP, which makes no
/// gate-DPL check and traps (SDM vol. 3, 6.12.1.1).</item>
/// </list>
/// <c>into</c> traps with OF set in 32-bit code; in 64-bit mode it is not an instruction (#UD).
/// Every exception is checked in the exception log: one entry, with the expected vector, error
/// code and saved instruction pointer. It guards XSA-106 (the emulator injected software
/// interrupts without the gate-DPL check, so user code reached DPL 0 handlers) and, as upstream's
/// docs/all-tests.dox lists, XSA-156: since that fix Xen intercepts #DB, and until 0747bc8b4d
/// re-injected the #DB of a native ICEBP as a fault, so its frame saved the ICEBP itself (the
/// native icebp rows that trap then fail, <c>--quirk xsa-156</c>). Without FEP the
/// native half still runs and the test SKIPs.
/// </summary>
[XtfTest("swint-emulation", Category.Functional, Environments.Hvm, Title = "Software interrupt emulation", Guards = ["xsa-106", "xsa-156"])]
public sealed class SwintEmulation : TestCase
{
    private const int PrefixLength = 5;

    /// <summary>An instruction under test, by its raw encoding (so that <c>int $3</c> stays CD 03).</summary>
    private sealed record Sequence(string Name, byte[] Opcode)
    {
        public bool IsInto => Opcode[0] == 0xCE;
    }

    private static readonly Sequence Int3 = new("int3", [0xCC]);
    private static readonly Sequence Int0x3 = new("int $3", [0xCD, 0x03]);
    private static readonly Sequence Icebp = new("icebp", [0xF1]);
    private static readonly Sequence Int0x1 = new("int $1", [0xCD, 0x01]);
    private static readonly Sequence Into = new("into", [0xCE]);

    /// <summary>The four stubs of a sequence, as lowlevel.S's GEN_SEQUENCE makes them.</summary>
    private static readonly (string Type, bool Forced, bool Redundant)[] Stubs =
    [
        ("regular", false, false),
        ("redundant", false, true),
        ("forced", true, false),
        ("forced redundant", true, true),
    ];

    /// <summary>Whether to run the stubs at CPL 3 (exec_user) or in the kernel.</summary>
    private bool user;

    /// <summary>
    /// The stub under test: its type, the offsets of its fault and trap labels from the address
    /// its first POP leaves in EBX, the vector and error code expected, and whether a fault is.
    /// </summary>
    private (string Prefix, uint FaultOffset, uint TrapOffset, bool Fault, int Vector, uint Error) expectation;

    /// <summary>The address of the running stub's label base (EBX after its POP).</summary>
    private ulong stubBase;

    private ulong ExpectedIp => stubBase + (expectation.Fault ? expectation.FaultOffset : expectation.TrapOffset);

    public override void Main()
    {
        Printk("Trap emulation\n");

        // Even without FEP the native half runs, to check the algorithm against the processor,
        // but the test does not claim success.
        if (!XtfHasFep)
            Skip("FEP support not detected - some tests will be skipped\n");

        SetIdtEntriesPresent(true);
        SetIdtEntriesDpl(3);

        ExlogStart();
        Cpl0Tests();
        Cpl3Tests();
        ExlogStop();

        Success();
    }

    private void Cpl0Tests()
    {
        Printk("Test cpl0: all perms ok\n");
        TestTrap(Int3, X86Vector.BP);
        TestTrap(Int0x3, X86Vector.BP);
        TestTrap(Icebp, X86Vector.DB);
        TestTrap(Int0x1, X86Vector.DB);
        TestInto(trap: true, X86Vector.OF, 0);

        Printk("Test cpl0: p=0\n");
        SetIdtEntriesPresent(false);
        TestNotPresent();
        SetIdtEntriesPresent(true);
    }

    private void Cpl3Tests()
    {
        user = true;

        Printk("Test cpl3: all perms ok\n");
        TestTrap(Int3, X86Vector.BP);
        TestTrap(Int0x3, X86Vector.BP);
        TestTrap(Icebp, X86Vector.DB);
        TestTrap(Int0x1, X86Vector.DB);
        TestInto(trap: true, X86Vector.OF, 0);

        Printk("Test cpl3: p=0\n");
        SetIdtEntriesPresent(false);
        TestNotPresent();
        SetIdtEntriesPresent(true);

        Printk("Test cpl3: dpl=0\n");
        SetIdtEntriesDpl(0);
        TestFault(Int3, X86Vector.GP, SelectorErrorCode.Idt(X86Vector.BP));
        TestFault(Int0x3, X86Vector.GP, SelectorErrorCode.Idt(X86Vector.BP));
        TestTrap(Icebp, X86Vector.DB); // ICEBP counts as external: no gate-DPL check.
        TestFault(Int0x1, X86Vector.GP, SelectorErrorCode.Idt(X86Vector.DB));
        TestInto(trap: false, X86Vector.GP, SelectorErrorCode.Idt(X86Vector.OF));
        SetIdtEntriesDpl(3);

        user = false;
    }

    /// <summary>Gates not present: #NP naming the IDT entry; ICEBP's has EXT set (SDM vol. 3, 6.13).</summary>
    private void TestNotPresent()
    {
        TestFault(Int3, X86Vector.NP, SelectorErrorCode.Idt(X86Vector.BP));
        TestFault(Int0x3, X86Vector.NP, SelectorErrorCode.Idt(X86Vector.BP));
        TestFault(Icebp, X86Vector.NP, SelectorErrorCode.Idt(X86Vector.DB, external: true));
        TestFault(Int0x1, X86Vector.NP, SelectorErrorCode.Idt(X86Vector.DB));
        TestInto(trap: false, X86Vector.NP, SelectorErrorCode.Idt(X86Vector.OF));
    }

    /// <summary><c>into</c> as in 32-bit code; in 64-bit mode, #UD whatever the gates say.</summary>
    private void TestInto(bool trap, X86Vector vector, uint error)
    {
        if (Bitness == 64)
            TestFault(Into, X86Vector.UD, 0);
        else if (trap)
            TestTrap(Into, vector);
        else
            TestFault(Into, vector, error);
    }

    private void TestTrap(Sequence seq, X86Vector vector) => TestSeq(seq, vector, 0, fault: false);

    private void TestFault(Sequence seq, X86Vector vector, uint error) => TestSeq(seq, vector, error, fault: true);

    /// <summary>Runs the stubs of a sequence in order; the forced ones only when FEP is available.</summary>
    private void TestSeq(Sequence seq, X86Vector vector, uint error, bool fault)
    {
        Printk($"  Testing {seq.Name}\n");
        for (int i = 0; i < Stubs.Length; i++)
        {
            var (type, forced, redundant) = Stubs[i];
            RunStub(seq, type, forced, redundant, (int)vector, error, fault);
            Check();

            if (i == 1 && !XtfHasFep)
                break;
        }
    }

    /// <summary>
    /// lowlevel.S's GEN_SINGLE: <c>call 1f; 1: pop %ebx</c> (so the labels can be found), OF set
    /// by <c>mov $0x7f, %al; add %al, %al</c> for <c>into</c> (a NOP otherwise), the forced
    /// emulation prefix, the fault label, the redundant 67 prefix, the instruction, the trap label.
    /// The exception table maps the fault label to the trap label and the trap label to itself.
    /// </summary>
    private void RunStub(Sequence seq, string type, bool forced, bool redundant, int vector, uint error, bool fault)
    {
        Action<Assembler> setup = seq.IsInto ? SetOverflow : a => a.nop();
        uint faultOffset = 1 + (uint)X86Assembly.Assemble(Bitness, 0, setup).Bytes.Length + (forced ? PrefixLength : 0u);
        uint trapOffset = faultOffset + (redundant ? 1u : 0u) + (uint)seq.Opcode.Length;
        expectation = (type, faultOffset, trapOffset, fault, vector, error);
        ExlogReset();

        Action<Assembler> stub = a =>
        {
            var here = a.CreateLabel();
            a.call(here);
            a.Label(ref here);
            if (Bitness == 64)
                a.pop(rbx);
            else
                a.pop(ebx);
            setup(a);
            if (forced)
                a.Fep();
            a.db(redundant ? [0x67, .. seq.Opcode] : seq.Opcode);
        };

        var regs = user ? ExecUserDetailed(stub, handler: Fixup) : ExecDetailed(stub, handler: Fixup);
        stubBase = regs.Ebx;
    }

    /// <summary>OF set, for <c>into</c> to trap: 0x7F + 0x7F overflows a signed byte.</summary>
    private static void SetOverflow(Assembler a)
    {
        a.mov(al, 0x7F);
        a.add(al, al);
    }

    /// <summary>_ASM_EXTABLE(fault, trap) and _ASM_TRAP_OK(trap): anything else is unhandled.</summary>
    private bool Fixup(ExceptionFrame regs, ExtableEntry entry)
    {
        stubBase = regs.Rbx & 0xFFFFFFFF;
        ulong trapLabel = stubBase + expectation.TrapOffset;
        if (regs.Rip != stubBase + expectation.FaultOffset && regs.Rip != trapLabel)
            return false;
        regs.Rip = trapLabel;
        return true;
    }

    /// <summary>Checks the exception log against the expectation: exactly one entry, as expected.</summary>
    private void Check()
    {
        var (prefix, _, _, _, vector, error) = expectation;
        int entries = ExlogEntries;
        if (entries != 1)
        {
            Failure($"Fail {prefix}: Expected 1 exception (vec {vector} at {FormatPointer(ExpectedIp)}), got {entries}\n");
            ExlogDump();
            return;
        }

        if (ExlogEntry(0) is not { } entry)
        {
            Failure($"Fail {prefix}: Unable to retrieve exception log\n");
            return;
        }

        if (entry.Ip != ExpectedIp || entry.Vector != vector || entry.ErrorCode != error)
        {
            Failure($"Fail {prefix}:\n" +
                    $"  Expected vec {vector,2}[{error:x4}] at {FormatPointer(ExpectedIp)}\n" +
                    $"       got vec {entry.Vector,2}[{entry.ErrorCode:x4}] at {FormatPointer(entry.Ip)}\n");
        }
    }

    /// <summary>XTF's unhandled-exception hook here: say what was expected, then panic.</summary>
    public override bool UnhandledException(ExceptionFrame regs)
    {
        stubBase = regs.Rbx & 0xFFFFFFFF;
        Printk($"Unhandled Exception at {regs.Cs:x4}:{FormatPointer(regs.Rip)}\n");
        Check();
        return false;
    }

    /// <summary>The IDT gates under test (#DB, #BP, #OF): their access byte, 5 bytes in, in either gate format.</summary>
    private static readonly X86Vector[] GatesUnderTest = [X86Vector.DB, X86Vector.BP, X86Vector.OF];

    private uint AccessByte(X86Vector vector) => (uint)HvmLayout.Idt + ((uint)vector * (Bitness == 64 ? 16u : 8u)) + 5;

    /// <summary>Sets or clears P (bit 7 of the access byte) of the gates under test, as kernel stores.</summary>
    private void SetIdtEntriesPresent(bool present) => Exec(a =>
    {
        foreach (var v in GatesUnderTest)
        {
            if (present)
                a.or(__byte_ptr[AccessByte(v)], 0x80);
            else
                a.and(__byte_ptr[AccessByte(v)], 0x7F);
        }
    });

    /// <summary>Sets the DPL (bits 5-6 of the access byte) of the gates under test, as kernel stores.</summary>
    private void SetIdtEntriesDpl(int dpl) => Exec(a =>
    {
        foreach (var v in GatesUnderTest)
        {
            a.and(__byte_ptr[AccessByte(v)], 0x9F);
            a.or(__byte_ptr[AccessByte(v)], dpl << 5);
        }
    });
}
