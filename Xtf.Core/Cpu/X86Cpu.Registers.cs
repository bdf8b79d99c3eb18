using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Xtf.Core.Cpu;

/// <summary>General-purpose register file (SDM vol. 1, 3.4.1 and 3.4.1.1).</summary>
public sealed partial class X86Cpu
{
    /// <summary>Register numbers as ModRM/REX encode them (SDM vol. 2, table 2-2): indexes for <see cref="this[int]"/> and the GPR helpers.</summary>
    public const int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

    /// <summary>The full 64-bit register by number (0 = RAX ... 15 = R15).</summary>
    public ulong this[int index]
    {
        get => gpr[index];
        set => gpr[index] = value;
    }

    /// <summary>EAX, the low 32 bits of RAX; writing zero-extends into RAX as a 64-bit-mode 32-bit write does.</summary>
    public uint Eax { get => (uint)gpr[RAX]; set => gpr[RAX] = value; }

    /// <summary>ECX, the low 32 bits of RCX; writing zero-extends into RCX.</summary>
    public uint Ecx { get => (uint)gpr[RCX]; set => gpr[RCX] = value; }

    /// <summary>EDX, the low 32 bits of RDX; writing zero-extends into RDX.</summary>
    public uint Edx { get => (uint)gpr[RDX]; set => gpr[RDX] = value; }

    /// <summary>EBX, the low 32 bits of RBX; writing zero-extends into RBX.</summary>
    public uint Ebx { get => (uint)gpr[RBX]; set => gpr[RBX] = value; }

    /// <summary>ESP, the low 32 bits of RSP; writing zero-extends into RSP.</summary>
    public uint Esp { get => (uint)gpr[RSP]; set => gpr[RSP] = value; }

    /// <summary>EBP, the low 32 bits of RBP; writing zero-extends into RBP.</summary>
    public uint Ebp { get => (uint)gpr[RBP]; set => gpr[RBP] = value; }

    /// <summary>ESI, the low 32 bits of RSI; writing zero-extends into RSI.</summary>
    public uint Esi { get => (uint)gpr[RSI]; set => gpr[RSI] = value; }

    /// <summary>EDI, the low 32 bits of RDI; writing zero-extends into RDI.</summary>
    public uint Edi { get => (uint)gpr[RDI]; set => gpr[RDI] = value; }

    /// <summary>Reads a general-purpose register of any width, as Iced names it.</summary>
    public ulong ReadRegister(Register r)
    {
        if (r >= Register.RAX && r <= Register.R15)
            return gpr[r - Register.RAX];
        if (r >= Register.EAX && r <= Register.R15D)
            return (uint)gpr[r - Register.EAX];
        if (r >= Register.AX && r <= Register.R15W)
            return (ushort)gpr[r - Register.AX];
        if (r >= Register.AL && r <= Register.R15L)
        {
            int i = r - Register.AL;
            // AH, CH, DH, BH are bits 8-15 of registers 0-3; SPL..R15L are low bytes of 4-15.
            if (i is >= 4 and < 8)
                return (byte)(gpr[i - 4] >> 8);
            return (byte)gpr[i < 4 ? i : i - 4];
        }

        if (r >= Register.ES && r <= Register.GS)
            return Segments[r - Register.ES].Selector;
        // Any other register (test registers, vector registers) belongs to a form this CPU does
        // not implement: the instruction is undefined here.
        throw CpuFault.UD();
    }

    /// <summary>
    /// Writes a general-purpose register. 8- and 16-bit writes merge; 32-bit writes zero the upper
    /// half (SDM vol. 1, 3.4.1.1).
    /// </summary>
    public void WriteRegister(Register r, ulong value)
    {
        if (r >= Register.RAX && r <= Register.R15)
            gpr[r - Register.RAX] = value;
        else if (r >= Register.EAX && r <= Register.R15D)
            gpr[r - Register.EAX] = (uint)value;
        else if (r >= Register.AX && r <= Register.R15W)
        {
            ref ulong g = ref gpr[r - Register.AX];
            g = (g & ~0xFFFFul) | (ushort)value;
        }
        else if (r >= Register.AL && r <= Register.R15L)
        {
            int i = r - Register.AL;
            if (i is >= 4 and < 8)
            {
                ref ulong g = ref gpr[i - 4];
                g = (g & ~0xFF00ul) | ((ulong)(byte)value << 8);
            }
            else
            {
                ref ulong g = ref gpr[i < 4 ? i : i - 4];
                g = (g & ~0xFFul) | (byte)value;
            }
        }
        else
        {
            throw CpuFault.UD();
        }
    }

    /// <summary>The 64-bit register <paramref name="index"/> (0-15) by reference, for the specialised forms.</summary>
    internal ref ulong Gpr(int index) => ref Unsafe.Add(ref Unsafe.As<RegisterFile, ulong>(ref gpr), index);

    /// <summary>Reads register <paramref name="index"/> at an operand size of 1, 2, 4 or 8 bytes (low byte for 1).</summary>
    internal ulong ReadGpr(int index, int size) => gpr[index] & SizeMask(size);

    internal void WriteGpr(int index, int size, ulong value)
    {
        ref ulong g = ref gpr[index];
        g = size switch
        {
            1 => (g & ~0xFFul) | (byte)value,
            2 => (g & ~0xFFFFul) | (ushort)value,
            4 => (uint)value,
            _ => value,
        };
    }

    /// <summary>All-ones mask of an operand of <paramref name="size"/> bytes (1, 2, 4; 8 or more gives all 64 bits).</summary>
    public static ulong SizeMask(int size) => size >= 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1;
}

/// <summary>RAX-R15 stored inside the CPU object itself, so that a register is one load away.</summary>
[InlineArray(16)]
internal struct RegisterFile
{
    private ulong element;
}
