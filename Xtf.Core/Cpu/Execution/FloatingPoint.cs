using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// x87 FPU control instructions and WAIT (SDM vol. 1, 8.3 and 8.6; vol. 2, FNOP, FINIT, FCLEX,
/// FSTSW, FSTCW, FLDCW, WAIT). The arithmetic, load and store instructions are not implemented:
/// their mnemonics have no handler and raise #UD.
/// </summary>
internal static class FloatingPoint
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Wait, Wait);
        add(Mnemonic.Fnop, Fnop);
        add(Mnemonic.Fninit, (X86Cpu c, in Instruction i) => { c.CheckX87Available(); c.InitializeFpu(); });
        add(Mnemonic.Fnclex, Fnclex);
        add(Mnemonic.Fnstsw, (X86Cpu c, in Instruction i) => StoreWord(c, i, c.FpuStatusWord));
        add(Mnemonic.Fnstcw, (X86Cpu c, in Instruction i) => StoreWord(c, i, c.FpuControlWord));
        add(Mnemonic.Fldcw, Fldcw);

        // FINIT, FCLEX, FSTSW and FSTCW are WAIT (9B) followed by the FN form: two instructions to
        // the processor (SDM vol. 2, FINIT: "the assembler issues two instructions"), one to Iced.
        add(Mnemonic.Finit, WaitPrefix);
        add(Mnemonic.Fclex, WaitPrefix);
        add(Mnemonic.Fstsw, WaitPrefix);
        add(Mnemonic.Fstcw, WaitPrefix);
    }

    /// <summary>
    /// WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set (SDM vol. 3, 2.5, table 2-2), then a
    /// pending unmasked x87 exception is taken (#MF).
    /// </summary>
    private static void Wait(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckWaitAvailable();
        cpu.CheckPendingX87Exception();
    }

    /// <summary>
    /// The WAIT of a waiting form runs alone, and the instruction that follows it starts at the
    /// FN form's first byte, so a fault of the FN form reports that instruction's address.
    /// </summary>
    private static void WaitPrefix(X86Cpu cpu, in Instruction i)
    {
        Wait(cpu, i);
        cpu.NextRip = cpu.Rip + 1;
    }

    /// <summary>
    /// FNOP: #NM if CR0.EM or CR0.TS; #MF if an unmasked x87 exception is pending (SDM vol. 2,
    /// FNOP); it updates the x87 instruction pointer and opcode (vol. 1, 8.1.8).
    /// </summary>
    private static void Fnop(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckX87Available();
        cpu.CheckPendingX87Exception();
        RecordInstruction(cpu, 0x1D0);
    }

    /// <summary>FNCLEX: clears the exception flags (bits 5:0), SF, ES and B; no pending-exception check.</summary>
    private static void Fnclex(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckX87Available();
        cpu.FpuStatusWord &= 0x7F00;
    }

    /// <summary>FNSTSW AX / m16 and FNSTCW m16: non-waiting stores (SDM vol. 2, FSTSW, FSTCW).</summary>
    private static void StoreWord(X86Cpu cpu, in Instruction i, ushort value)
    {
        cpu.CheckX87Available();
        cpu.WriteOperand(i, 0, 2, value);
    }

    /// <summary>
    /// FLDCW m16 (SDM vol. 2, FLDCW): a waiting instruction. Unmasking an exception whose flag is
    /// set makes it pending (ES set), to be taken by the next waiting instruction.
    /// </summary>
    private static void Fldcw(X86Cpu cpu, in Instruction i)
    {
        cpu.CheckX87Available();
        cpu.CheckPendingX87Exception();
        ushort value = (ushort)cpu.ReadOperand(i, 0, 2);
        cpu.FpuControlWord = value;
        cpu.UpdateFpuErrorSummary();
    }

    /// <summary>
    /// The x87 instruction pointer (CS:offset) and the 11-bit opcode of the last non-control x87
    /// instruction (SDM vol. 1, 8.1.8 and 8.1.9).
    /// </summary>
    private static void RecordInstruction(X86Cpu cpu, ushort opcode)
    {
        cpu.FpuInstructionPointer = cpu.Rip;
        cpu.FpuInstructionSelector = cpu.Segments[X86Cpu.CS].Selector;
        cpu.FpuOpcode = opcode;
    }
}
