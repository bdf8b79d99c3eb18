using System.Buffers.Binary;
using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// XSA-123 (CVE-2015-2151, fixed by Xen e38350a3a0, "x86emul: fully ignore segment override for
/// register-only operations"). x86_emulate's <c>struct operand</c> keeps, in one union, the
/// pointer to a register operand's field in the register block (<c>unsigned long *reg</c>) and a
/// memory operand's <c>enum x86_segment seg</c> and offset, so <c>seg</c> aliases the low 32 bits
/// of <c>reg</c>. Before the fix, <c>if ( override_seg != -1 ) ea.mem.seg = override_seg;</c>
/// ran for a ModRM register operand too (the fix added <c>&amp;&amp; ea.type == OP_MEM</c>): the
/// pointer's low half became the segment number (x86_seg_cs 0, ss 1, ds 2, es 3, fs 4, gs 5,
/// x86_emulate.h), and the operand was read and written there instead of the guest's register.
/// The register block lies on Xen's stack in the direct map, so the stale pointer reached machine
/// memory at the stack's 4 GiB-aligned base plus the segment number: memory no guest owns. The
/// model keeps those bytes (<see cref="HvmEmulator.HypervisorBytes"/>, zero at start) per
/// emulator; a guest sees the bug as its register left alone by a write and as a read returning
/// what an earlier corrupted write left there.
/// </summary>
internal static class StaleRegisterPointer
{
    /// <summary>The ModRM r/m operand of <paramref name="i"/> (0 or 1) when it is a register and a segment override is present under quirk xsa-123; else -1.</summary>
    public static int AliasedOperand(HvmEmulator e, in Instruction i)
    {
        if (i.SegmentPrefix == Register.None || !e.Options.Has(Quirk.Xsa123))
            return -1;
        var op = i.Code.ToOpCode();
        for (int k = 0; k < Math.Min(2, op.OpCount); k++)
        {
            if (i.GetOpKind(k) == OpKind.Register
                && op.GetOpKind(k) is OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r64_or_mem)
                return k;
        }

        return -1;
    }

    /// <summary>The operand read through the stale pointer (<c>src.val = *(uintN_t *)src.reg</c>).</summary>
    public static ulong Read(HvmEmulator e, in Instruction i, int size)
    {
        var bytes = e.HypervisorBytes.AsSpan(Offset(in i));
        return size switch
        {
            1 => bytes[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        };
    }

    /// <summary>
    /// The operand written back through the stale pointer (x86_emulate's writeback, <c>case
    /// OP_REG</c>): 1 and 2 bytes as they are; 4 bytes as <c>*dst.reg = (uint32_t)dst.val</c>, all
    /// 8 bytes of the <c>unsigned long</c>, zero-extended; 8 bytes.
    /// </summary>
    public static void Write(HvmEmulator e, in Instruction i, int size, ulong value)
    {
        var bytes = e.HypervisorBytes.AsSpan(Offset(in i));
        switch (size)
        {
            case 1:
                bytes[0] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value);
                break;
            default:
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, size == 4 ? (uint)value : value);
                break;
        }
    }

    /// <summary>The x86_segment number the override left in the pointer's low half.</summary>
    private static int Offset(in Instruction i) => i.SegmentPrefix switch
    {
        Register.CS => 0,
        Register.SS => 1,
        Register.DS => 2,
        Register.ES => 3,
        Register.FS => 4,
        _ => 5,
    };
}

/// <summary>The emulator's view of memory outside the guest, for quirk xsa-123.</summary>
internal sealed partial class HvmEmulator
{
    /// <summary>
    /// Machine memory at the 4 GiB-aligned base of Xen's stack plus 0..15, in the direct map,
    /// which the stale register pointer of XSA-123 reaches (<see cref="StaleRegisterPointer"/>).
    /// </summary>
    public byte[] HypervisorBytes { get; } = new byte[16];
}
