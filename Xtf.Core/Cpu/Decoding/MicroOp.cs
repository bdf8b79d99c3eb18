namespace Xtf.Core.Cpu.Decoding;

/// <summary>
/// The semantics of one cached instruction form, resolved once at decode time (DESIGN.md
/// section 7): a specialised handler with its register numbers, immediate, operand size and
/// memory operand already taken out of the decoded instruction, so the hot loop neither
/// re-inspects operand kinds nor dispatches by mnemonic. An instruction with no specialised form
/// keeps <see cref="Fast"/> null and runs through the general handler of its mnemonic.
/// </summary>
internal unsafe struct MicroOp
{
    /// <summary>Register number meaning "no register" in <see cref="Base"/> and <see cref="Index"/>.</summary>
    public const byte NoRegister = 0xFF;

    /// <summary>Specialised semantics, or null for the general handler.</summary>
    public delegate*<X86Cpu, ref readonly MicroOp, void> Fast;

    /// <summary>The RIP the instruction was decoded at (part of the cache key: see DecodeCache).</summary>
    public ulong Rip;

    /// <summary>Immediate operand (sign- or zero-extended as the form defines), or branch target.</summary>
    public ulong Immediate;

    /// <summary>Displacement of the memory operand (for RIP-relative forms, the absolute target).</summary>
    public ulong Displacement;

    /// <summary>Mask of the address size (0xFFFF, 0xFFFFFFFF or all ones).</summary>
    public ulong AddressMask;

    /// <summary>Code size the entry was decoded for; 0 marks an empty slot.</summary>
    public byte Bitness;

    /// <summary>Instruction length in bytes.</summary>
    public byte Length;

    /// <summary>Operand size in bytes.</summary>
    public byte Size;

    /// <summary>Destination and source register numbers (0 = RAX ... 15 = R15).</summary>
    public byte Dst, Src;

    /// <summary>Memory operand: base and index register numbers (or <see cref="NoRegister"/>), index shift, segment.</summary>
    public byte Base, Index, Scale, Segment;

    /// <summary>Condition code of Jcc (low nibble of the opcode, SDM vol. 1, table B-1).</summary>
    public byte Condition;

    /// <summary>The instruction must run through the single-step path (MOV SS / POP SS and their shadow).</summary>
    public bool StepOnly;
}
