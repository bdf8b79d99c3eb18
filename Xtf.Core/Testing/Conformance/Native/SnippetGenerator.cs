using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// Builds a snippet of one family from a seed: random registers and arithmetic flags, then 1 to
/// <see cref="OracleFamily.MaxLength"/> instructions made with Iced's <see cref="Instruction"/>.Create
/// and encoded by Iced's <see cref="Encoder"/>. An instruction that reads a flag an earlier one left
/// undefined (Iced's RflagsRead against RflagsUndefined) is drawn again, so every register stays
/// defined. Forms whose start state matters are first in their snippet, with that state chosen:
/// DIV/IDIV (operands that cannot #DE, SDM vol. 2 DIV/IDIV), 16-bit SHLD/SHRD by CL (count at most 16:
/// beyond it the result is undefined, SDM vol. 2 SHLD/SHRD), BSF/BSR (alone: a zero source leaves
/// the destination undefined, SDM vol. 2 BSF/BSR).
/// </summary>
public static class SnippetGenerator
{
    private const int Attempts = 200;

    /// <summary>The snippet of <paramref name="family"/> for <paramref name="seed"/>.</summary>
    public static OracleSnippet Generate(OracleFamily family, int seed)
    {
        var rng = new Random(seed);
        var initial = new OracleState();
        for (int r = 0; r < OracleState.Count; r++)
            initial.Gpr[r] = r == X86Cpu.RSP ? 0 : rng.Next(3) == 0 ? (ulong)rng.NextInt64() : SnippetOperands.Edge(rng, 64);
        initial.Rflags = RFlags.Reserved1 | ((uint)rng.Next() & RFlags.Status);

        int length = rng.Next(1, family.MaxLength + 1);
        var instructions = new List<Instruction>();
        var undefinedRegisters = new List<(int, string)>();
        uint undefined = 0;
        bool alone = false;
        for (int i = 0; i < length && !alone; i++)
        {
            for (int attempt = 0; ; attempt++)
            {
                if (attempt == Attempts)
                    throw new InvalidOperationException($"family {family.Name}, seed {seed}: no instruction fits position {i}");
                var code = family.Forms[rng.Next(family.Forms.Count)];
                if (!TryBuild(rng, code, out var instruction))
                    continue;
                var mnemonic = instruction.Mnemonic;
                bool startsSnippet = mnemonic is Mnemonic.Div or Mnemonic.Idiv or Mnemonic.Bsf or Mnemonic.Bsr || IsShiftDouble16ByCl(instruction);
                if (startsSnippet && i > 0)
                    continue;
                if ((IcedFlags.ToArchitectural(instruction.RflagsRead) & undefined) != 0)
                    continue;
                if (mnemonic is Mnemonic.Div or Mnemonic.Idiv && !DivisionOperands.TryChoose(rng, instruction, initial))
                    continue;
                if (IsShiftDouble16ByCl(instruction))
                    Parts.Write(initial, Register.CL, (uint)rng.Next(17) | ((uint)rng.Next(8) << 5)); // count & 31 <= 16
                if (mnemonic is Mnemonic.Bsf or Mnemonic.Bsr)
                {
                    alone = true;
                    if (rng.Next(4) == 0)
                        Parts.Write(initial, instruction.Op1Register, 0);
                    if (Parts.Read(initial, instruction.Op1Register) == 0)
                        undefinedRegisters.Add((Parts.Index(instruction.Op0Register), "SDM vol. 2 BSF/BSR: the destination is undefined when the source is 0"));
                }

                undefined = (undefined & ~IcedFlags.ToArchitectural(instruction.RflagsModified)) | IcedFlags.ToArchitectural(instruction.RflagsUndefined);
                instructions.Add(instruction);
                break;
            }
        }

        return new OracleSnippet(family.Name, seed, instructions, Encode(instructions), initial, undefined, undefinedRegisters);
    }

    /// <summary>
    /// Instructions <paramref name="start"/> to <paramref name="end"/> (exclusive) of <paramref name="snippet"/>
    /// as a snippet of their own starting from <paramref name="initial"/>: for re-running part of a
    /// disagreeing snippet from the host's state at that point. DIV/IDIV and BSF/BSR keep their
    /// start-state rules only from the original start (<paramref name="start"/> = 0).
    /// </summary>
    public static OracleSnippet Slice(OracleSnippet snippet, int start, int end, OracleState initial)
    {
        var instructions = snippet.Instructions.Skip(start).Take(end - start).ToList();
        uint undefined = 0;
        foreach (var i in instructions)
            undefined = (undefined & ~IcedFlags.ToArchitectural(i.RflagsModified)) | IcedFlags.ToArchitectural(i.RflagsUndefined);
        return snippet with
        {
            Instructions = instructions,
            Bytes = Encode(instructions),
            Initial = initial.Clone(),
            UndefinedFlags = undefined,
            UndefinedRegisters = start == 0 ? snippet.UndefinedRegisters : [],
        };
    }

    private static bool IsShiftDouble16ByCl(in Instruction i) =>
        i.Mnemonic is Mnemonic.Shld or Mnemonic.Shrd && i.Op0Register.GetSize() == 2 && i.Op2Kind == OpKind.Register;

    /// <summary>An instruction of <paramref name="code"/> with random operands; false if Iced cannot encode it (e.g. AH with a REX prefix) or it is a 16-bit SHLD/SHRD by an immediate above 16.</summary>
    private static bool TryBuild(Random rng, Code code, out Instruction instruction)
    {
        instruction = default;
        var op = code.ToOpCode();
        var registers = new List<Register>();
        long? immediate = null;
        bool signed = false;
        for (int k = 0; k < op.OpCount; k++)
        {
            var kind = op.GetOpKind(k);
            if (SnippetOperands.RandomImmediate(rng, kind) is { } imm)
            {
                immediate = imm;
                signed = kind is OpCodeOperandKind.imm8sex16 or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm8sex64 or OpCodeOperandKind.imm32sex64;
            }
            else
            {
                registers.Add(SnippetOperands.RandomRegister(rng, kind));
            }
        }

        try
        {
            instruction = (registers.Count, immediate) switch
            {
                (1, null) => Instruction.Create(code, registers[0]),
                (2, null) => Instruction.Create(code, registers[0], registers[1]),
                (3, null) => Instruction.Create(code, registers[0], registers[1], registers[2]),
                (1, long v) => signed ? Instruction.Create(code, registers[0], (int)v) : Instruction.Create(code, registers[0], (uint)v),
                (2, long v) => signed ? Instruction.Create(code, registers[0], registers[1], (int)v) : Instruction.Create(code, registers[0], registers[1], (uint)v),
                _ => throw new ArgumentException($"unexpected operands for {code}"),
            };
        }
        catch (ArgumentException)
        {
            return false;
        }

        if (instruction.Mnemonic is Mnemonic.Shld or Mnemonic.Shrd && registers[0].GetSize() == 2 && immediate is long count && (count & 31) > 16)
            return false;
        // The bytes must decode back to the same form: XCHG EAX, EAX is encoded 90, which is NOP.
        var sink = new StreamCodeWriterSink();
        if (!Encoder.Create(64, sink).TryEncode(instruction, 0, out _, out _))
            return false;
        var decoded = Decoder.Create(64, new ByteArrayCodeReader(sink.Bytes.ToArray())).Decode();
        return decoded.Code == code;
    }

    private static byte[] Encode(IReadOnlyList<Instruction> instructions)
    {
        var sink = new StreamCodeWriterSink();
        var encoder = Encoder.Create(64, sink);
        ulong rip = 0;
        foreach (var i in instructions)
            rip += (ulong)encoder.Encode(i, rip);
        return sink.Bytes.ToArray();
    }

    private sealed class StreamCodeWriterSink : CodeWriter
    {
        public List<byte> Bytes { get; } = [];

        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
