namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// Every place where the 80286 the SingleStepTests were captured from and the modern x86 we
/// emulate legitimately differ, each with the rule behind it. This is the only place conformance
/// results are excused. A mask covers a test only when all of the test's differences are of its
/// kind; where a re-run can show that (<see cref="ConformanceRerun"/>), it must then pass exactly.
/// </summary>
public static class ConformanceMasks
{
    /// <summary>The 286's exception vector for a segment overrun in real mode, whatever the segment.</summary>
    private const byte SegmentOverrun = 13;

    private const byte InvalidOpcode = 6;

    /// <summary>Every mask, in the order <see cref="ConformanceRunner"/> tries them (a test one mask explains alone is reported under the first such mask).</summary>
    public static IReadOnlyList<ConformanceMask> All { get; } =
    [
        // 80286 PRM, real address mode: FLAGS bits 12-14 (IOPL, NT) cannot be set in real mode;
        // POPF and IRET load them as 0 (upstream README FAQ, "Why are some instructions clearing
        // flags they shouldn't?"). SDM POPF/IRET: a modern CPU at CPL 0 in real mode loads them.
        new(
            "real-mode-iopl-nt",
            "POPF/IRET in real mode: the 286 keeps FLAGS.IOPL and NT clear; 386 and later load them (SDM POPF, IRET)",
            (test, _) => Opcode(test) is 0x9D or 0xCF,
            ConformanceRerun.IgnoreIoplNt),

        // 80286 PRM, real address mode exceptions: a word operand at offset FFFFh, or one running
        // past the end of any segment (SS included), is interrupt 13. SDM vol. 3, 20.1.4 and each
        // instruction's real-address-mode exceptions: a stack-segment overrun is #SS (vector 12).
        new(
            "stack-overrun-is-interrupt-13",
            "SS-relative offset overrun in real mode: the 286 raises interrupt 13, 386 and later #SS (vector 12) (SDM vol. 3, 20.1.4)",
            (test, _) => test.Exception?.Vector == SegmentOverrun,
            ConformanceRerun.StackFaultThroughVector13),

        // The 286 has stepped SI and DI (and CX under REP) for the access that overran offset FFFFh
        // before raising interrupt 13, so its pushed state is not restartable. SDM vol. 3, 6.5:
        // modern faults are precise, with the registers as before the faulting iteration.
        new(
            "string-overrun-steps-si-di",
            "string instruction overrunning offset FFFFh: the 286 has already stepped SI/DI/CX at interrupt 13; faults are precise on 386 and later (SDM vol. 3, 6.5)",
            (test, _) => test.Exception?.Vector == SegmentOverrun && IsString(test),
            ConformanceRerun.IgnoreStringRegisters),

        // SDM vol. 2, LOCK: #UD when LOCK prefixes an instruction that is not one of the lockable
        // read-modify-write forms with a memory destination. The 286 asserts LOCK# and executes
        // the instruction (upstream README, F0).
        new(
            "lock-on-unlockable-instruction",
            "LOCK before an instruction that cannot be locked: the 286 executes it, 386 and later raise #UD (SDM vol. 2, LOCK)",
            (test, _) => HasLock(test),
            ConformanceRerun.LockAsSegmentOverride),

        // POP r/m16 whose memory store overruns offset FFFFh: the 286 has already incremented SP
        // when it raises interrupt 13. SDM vol. 2, POP: a modern CPU faults with SP unchanged.
        new(
            "pop-rm-store-overrun-after-sp",
            "POP r/m16 whose store overruns offset FFFFh: the 286 has already incremented SP at interrupt 13; SP is unchanged on 386 and later (SDM vol. 2, POP)",
            (test, _) => test.Exception?.Vector == SegmentOverrun && Opcode(test) == 0x8F,
            ConformanceRerun.PopIncrementsSpFirst),

        // 80286 PRM: an instruction longer than 10 bytes (possible only with redundant prefixes)
        // raises interrupt 13. SDM vol. 2, 2.3.11: the limit is 15 bytes on 386 and later.
        new(
            "instruction-longer-than-10-bytes",
            "instruction of 11-15 bytes: the 286 limit is 10 bytes (interrupt 13), 386 and later allow 15 (SDM vol. 2, 2.3.11)",
            (test, _) => test.Exception?.Vector == SegmentOverrun && test.Bytes.Length - 1 > 10),

        // The 286 has four segment registers: MOV to or from Sreg 4 and 5 is an invalid opcode on
        // it. SDM vol. 2, MOV: on 386 and later those encodings are FS and GS.
        new(
            "mov-fs-gs",
            "MOV r/m16, Sreg / MOV Sreg, r/m16 with Sreg 4 or 5: #UD on the 286, FS/GS on 386 and later (SDM vol. 2, MOV)",
            (test, _) => test.Exception?.Vector == InvalidOpcode && Opcode(test) is 0x8C or 0x8E
                && ModRmReg(test) is 4 or 5),

        // The capture rig's 286 had no 80287 and CR0.EM clear: an ESC opcode is dispatched to a
        // coprocessor that is not there and completes without effect. A modern CPU has the x87
        // built in; ours does not emulate it and raises #UD for ESC opcodes.
        new(
            "escape-without-coprocessor",
            "ESC (D8-DF): the rig's 286 has no 80287 and ESC has no effect; this CPU does not emulate the x87 unit (#UD)",
            (test, _) => test.Exception is null && Opcode(test) is >= 0xD8 and <= 0xDF),
    ];

    private static byte? Opcode(MooTest test) => InstructionEncoding.Opcode(test.Bytes);

    private static int? ModRmReg(MooTest test)
    {
        int i = InstructionEncoding.OpcodeOffset(test.Bytes) + 1;
        return i < test.Bytes.Length ? (test.Bytes[i] >> 3) & 7 : null;
    }

    private static bool HasLock(MooTest test) =>
        test.Bytes.AsSpan(0, InstructionEncoding.OpcodeOffset(test.Bytes)).Contains((byte)0xF0);

    private static bool IsString(MooTest test) =>
        Opcode(test) is (>= 0x6C and <= 0x6F) or (>= 0xA4 and <= 0xA7) or (>= 0xAA and <= 0xAF);
}
