using Iced.Intel;

namespace Xtf.Core.Testing.Conformance.Native;

/// <summary>
/// The last check before snippet bytes run on the host: Iced decodes them back, in 64-bit mode,
/// to exactly the generated instructions, each of which falls through (FlowControl.Next), touches
/// no memory and no stack pointer (InstructionInfoFactory's UsedMemory and UsedRegisters), and is
/// not DIV/IDIV unless it is first (where the generator chose operands that cannot #DE).
/// </summary>
public static class SnippetGuard
{
    /// <summary>Null when the snippet is safe to run natively, else why not.</summary>
    public static string? Check(OracleSnippet snippet)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(snippet.Bytes));
        var factory = new InstructionInfoFactory();
        int count = 0;
        while (decoder.IP < (ulong)snippet.Bytes.Length)
        {
            var i = decoder.Decode();
            if (i.IsInvalid)
                return $"byte {i.IP} does not decode";
            if (count >= snippet.Instructions.Count || i.Code != snippet.Instructions[count].Code)
                return $"instruction {count} decodes as {i}, not as generated";
            if (i.FlowControl != FlowControl.Next)
                return $"{i} transfers control";
            var info = factory.GetInfo(i);
            if (info.GetUsedMemory().Any())
                return $"{i} accesses memory";
            if (info.GetUsedRegisters().Any(u => u.Register.GetFullRegister() == Register.RSP))
                return $"{i} uses the stack pointer";
            if (i.Mnemonic is Mnemonic.Div or Mnemonic.Idiv && count > 0)
                return $"{i} divides with operands the generator did not choose";
            count++;
        }

        return count == snippet.Instructions.Count ? null : "fewer instructions decode than were generated";
    }
}
