using Iced.Intel;
using Xtf.Core.Cpu.Execution.Sse;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Semantics of one instruction form; RIP of the next instruction is in <see cref="X86Cpu.NextRip"/>.</summary>
internal delegate void InstructionHandler(X86Cpu cpu, in Instruction insn);

/// <summary>
/// Table-driven dispatch by mnemonic. Each family (Arithmetic, Logic, ...) registers its handlers;
/// a mnemonic nobody registered raises #UD, as an instruction the processor does not implement.
/// </summary>
internal static class InstructionTable
{
    private static readonly InstructionHandler?[] Handlers = Build();

    public static void Execute(X86Cpu cpu, in Instruction insn)
    {
        var handler = Handlers[(int)insn.Mnemonic];
        if (handler is null)
        {
            UnimplementedMedia.CheckEnabled(cpu, in insn);
            cpu.RaiseInvalidOpcode();
            cpu.NextRip = cpu.Rip;
            return;
        }

        handler(cpu, in insn);
    }

    private static InstructionHandler?[] Build()
    {
        var table = new InstructionHandler?[Enum.GetValues<Mnemonic>().Length];
        void Add(Mnemonic m, InstructionHandler h) => table[(int)m] = h;
        Arithmetic.Install(Add);
        Logic.Install(Add);
        Shifts.Install(Add);
        MulDiv.Install(Add);
        BitOperations.Install(Add);
        BitManipulation.Install(Add);
        Decimal.Install(Add);
        DataMovement.Install(Add);
        FlagControl.Install(Add);
        ControlTransfer.Install(Add);
        Interrupts.Install(Add);
        StringOperations.Install(Add);
        InputOutput.Install(Add);
        SegmentInstructions.Install(Add);
        SystemInstructions.Install(Add);
        FloatingPoint.Install(Add);
        MediaInstructions.Install(Add);
        SseDataMovement.Install(Add);
        SseArithmetic.Install(Add);
        return table;
    }
}
