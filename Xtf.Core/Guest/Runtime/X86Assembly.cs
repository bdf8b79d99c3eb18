using Iced.Intel;

namespace Xtf.Core.Guest.Runtime;

/// <summary>Assembled x86: the bytes, and where each instruction and label landed.</summary>
public sealed class AssembledCode
{
    internal AssembledCode(byte[] bytes, ulong address, uint[] offsets, AssemblerResult result)
    {
        Bytes = bytes;
        Address = address;
        InstructionOffsets = offsets;
        Result = result;
    }

    /// <summary>The machine code, to be written at <see cref="Address"/>.</summary>
    public byte[] Bytes { get; }

    /// <summary>The linear address the code was assembled for (RIP-relative operands and branches assume it).</summary>
    public ulong Address { get; }

    /// <summary>Offset of every instruction from <see cref="Address"/>, in order.</summary>
    public IReadOnlyList<uint> InstructionOffsets { get; }

    private AssemblerResult Result { get; }

    /// <summary>The linear address <paramref name="label"/> was bound to.</summary>
    public ulong LabelAddress(Label label) => Result.GetLabelRIP(label);
}

/// <summary>Runs Iced's assembler for code that will live at a known guest address.</summary>
public static class X86Assembly
{
    /// <summary>Encodes <paramref name="asm"/>'s instructions for linear address <paramref name="address"/>, in the assembler's bitness; Iced throws if an instruction cannot be encoded.</summary>
    public static AssembledCode Assemble(Assembler asm, ulong address)
    {
        var writer = new ByteWriter();
        var result = asm.Assemble(writer, address, BlockEncoderOptions.ReturnNewInstructionOffsets);
        uint[] offsets = result.Result[0].NewInstructionOffsets;
        return new AssembledCode([.. writer.Bytes], address, offsets, result);
    }

    /// <summary>Creates an assembler of <paramref name="bitness"/> (16, 32 or 64), lets <paramref name="emit"/> fill it, and encodes it for <paramref name="address"/>.</summary>
    public static AssembledCode Assemble(int bitness, ulong address, Action<Assembler> emit)
    {
        var asm = new Assembler(bitness);
        emit(asm);
        return Assemble(asm, address);
    }

    private sealed class ByteWriter : CodeWriter
    {
        public List<byte> Bytes { get; } = [];

        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
