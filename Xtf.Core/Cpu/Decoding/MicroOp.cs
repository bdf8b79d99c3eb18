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

    /// <summary>Specialised semantics, returning the RIP of the next instruction; null for the general handler.</summary>
    public delegate*<X86Cpu, ref readonly MicroOp, ulong> Fast;

    /// <summary>The RIP the instruction was decoded at (part of the cache key: see DecodeCache).</summary>
    public ulong Rip;

    /// <summary>RIP of the next instruction in sequence (EIP, a 32-bit register, outside 64-bit mode, 16-bit code included).</summary>
    public ulong NextRip;

    /// <summary>Offset of the instruction's last byte, which must lie within the CS limit (SDM vol. 3, 5.3).</summary>
    public ulong LastByte;

    /// <summary>Immediate operand (sign- or zero-extended as the form defines), or branch target.</summary>
    public ulong Immediate;

    /// <summary>Displacement of the memory operand (for RIP-relative forms, the absolute target).</summary>
    public ulong Displacement;

    /// <summary>Mask of the address size (0xFFFF, 0xFFFFFFFF or all ones).</summary>
    public ulong AddressMask;

    /// <summary>Flag in <see cref="Mode"/>: no specialised form, the general handler runs it.</summary>
    public const byte General = 0x80;

    /// <summary>Flag in <see cref="Mode"/>: MOV SS / POP SS, which must run through the single-step path.</summary>
    public const byte StepOnly = 0x01;

    /// <summary>
    /// The code size the entry was decoded for (16, 32, 64; 0 marks an empty slot), with
    /// <see cref="General"/> and <see cref="StepOnly"/>: the hot loop runs a specialised form with
    /// one comparison against the current code size.
    /// </summary>
    public byte Mode;

    /// <summary>The code size the entry was decoded for.</summary>
    public readonly int Bitness => Mode & 0x70;

    /// <summary>Instruction length in bytes.</summary>
    public byte Length;

    /// <summary>Operand size in bytes.</summary>
    public byte Size;

    /// <summary>Destination and source register numbers (0 = RAX ... 15 = R15).</summary>
    public byte Dst, Src;

    /// <summary>Memory operand: base and index register numbers (or <see cref="NoRegister"/>), index shift, segment.</summary>
    public byte Base, Index, Scale, Segment;

    /// <summary>Flag in <see cref="Traits"/>: the form may leave the sequence (a branch), so a block ends with it.</summary>
    public const byte Branch = 1;

    /// <summary>Flag in <see cref="Traits"/>: the form may fault (memory, stack, branch-target checks).</summary>
    public const byte MayFault = 2;

    /// <summary>Flag in <see cref="Traits"/>: the form writes memory, possibly the code it runs from.</summary>
    public const byte WritesMemory = 4;

    /// <summary><see cref="Branch"/>, <see cref="MayFault"/>, <see cref="WritesMemory"/>.</summary>
    public byte Traits;

    /// <summary>Times the hot loop entered this instruction before its block was compiled.</summary>
    public ushort Heat;

    /// <summary>Index of the compiled block starting here in the frame's block list; 0 none yet, -1 none possible.</summary>
    public int Block;

    /// <summary>Condition code of Jcc (low nibble of the opcode, SDM vol. 1, table B-1).</summary>
    public byte Condition;
}
