namespace Xtf.Core.Testing.Conformance;

/// <summary>Just enough 286 instruction-encoding knowledge to classify a test by its bytes.</summary>
public static class InstructionEncoding
{
    /// <summary>Offset of the opcode byte: past the segment-override, LOCK and REP prefixes (8086/286 prefixes only).</summary>
    public static int OpcodeOffset(ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        while (i < bytes.Length && IsPrefix(bytes[i]))
            i++;
        return i;
    }

    /// <summary>The 286's prefixes: ES/CS/SS/DS overrides (26h, 2Eh, 36h, 3Eh), LOCK (F0h), REPNE (F2h), REP/REPE (F3h). 64h-67h, prefixes only from the 386 on, are not treated as prefixes.</summary>
    public static bool IsPrefix(byte b) => b is 0x26 or 0x2E or 0x36 or 0x3E or 0xF0 or 0xF2 or 0xF3;

    /// <summary>The opcode byte (0F for two-byte opcodes), or null if the bytes are all prefixes.</summary>
    public static byte? Opcode(ReadOnlySpan<byte> bytes)
    {
        int i = OpcodeOffset(bytes);
        return i < bytes.Length ? bytes[i] : null;
    }

    /// <summary>
    /// The segment-override prefix byte that selects the segment the instruction's memory operand
    /// already uses: its last override, else SS (36h) for a BP-based ModRM operand, else DS (3Eh).
    /// Overrides do not affect string destinations (ES) or stack accesses.
    /// </summary>
    public static byte EffectiveSegmentPrefix(ReadOnlySpan<byte> bytes)
    {
        int i = OpcodeOffset(bytes);
        for (int k = i - 1; k >= 0; k--)
        {
            if (bytes[k] is 0x26 or 0x2E or 0x36 or 0x3E)
                return bytes[k];
        }

        if (i + 1 < bytes.Length && HasModRm(bytes[i]))
        {
            int modrm = bytes[i + 1];
            int mod = modrm >> 6, rm = modrm & 7;
            bool bpBased = mod != 3 && (rm is 2 or 3 || (rm == 6 && mod != 0));
            if (bpBased)
                return 0x36;
        }

        return 0x3E;
    }

    /// <summary>One-byte 286 opcodes followed by a ModRM byte.</summary>
    public static bool HasModRm(byte opcode) =>
        (opcode < 0x40 && (opcode & 7) < 4) || opcode is 0x62 or 0x63 or 0x69 or 0x6B
        || (opcode >= 0x80 && opcode <= 0x8F) || opcode is 0xC0 or 0xC1 or (>= 0xC4 and <= 0xC7)
        || (opcode >= 0xD0 && opcode <= 0xD3) || (opcode >= 0xD8 && opcode <= 0xDF)
        || opcode is 0xF6 or 0xF7 or 0xFE or 0xFF;
}
