using Iced.Intel;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Cpu;

/// <summary>Operand access for instruction semantics: registers, immediates and memory.</summary>
public sealed partial class X86Cpu
{
    /// <summary>Size in bytes of operand <paramref name="n"/> (register or memory).</summary>
    internal static int OperandSize(in Instruction i, int n)
    {
        var kind = i.GetOpKind(n);
        if (kind == OpKind.Register)
            return i.GetOpRegister(n).GetSize();
        if (kind == OpKind.Memory)
            return i.MemorySize.GetSize();
        return kind switch
        {
            OpKind.Immediate8 or OpKind.Immediate8_2nd => 1,
            OpKind.Immediate16 or OpKind.Immediate8to16 => 2,
            OpKind.Immediate32 or OpKind.Immediate8to32 => 4,
            _ => 8,
        };
    }

    /// <summary>
    /// Offset part of a memory operand (SDM vol. 2, 2.1.5): base + index * scale + displacement,
    /// truncated to the address size. Iced resolves RIP-relative displacements to the target.
    /// </summary>
    internal ulong EffectiveAddress(in Instruction i)
    {
        ulong ea = i.MemoryDisplacement64;
        var b = i.MemoryBase;
        var x = i.MemoryIndex;
        if (b == Register.RIP || b == Register.EIP)
            return b == Register.EIP ? (uint)ea : ea;
        int addrSize = AddressSize(i);
        if (b != Register.None)
            ea += ReadRegister(b);
        if (x != Register.None)
            ea += ReadRegister(x) * (ulong)i.MemoryIndexScale;
        return addrSize switch
        {
            2 => ea & 0xFFFF,
            4 => ea & 0xFFFFFFFF,
            _ => ea,
        };
    }

    /// <summary>Address size of a memory operand in bytes, from its registers or displacement size.</summary>
    internal int AddressSize(in Instruction i) => AddressSize(in i, Bitness);

    /// <summary>Address size of a memory operand of an instruction decoded at <paramref name="bitness"/>.</summary>
    internal static int AddressSize(in Instruction i, int bitness)
    {
        var b = i.MemoryBase;
        if (b != Register.None)
            return b.GetSize();
        var x = i.MemoryIndex;
        if (x != Register.None)
            return x.GetSize();
        return i.MemoryDisplSize switch
        {
            2 => 2,
            4 => 4,
            8 => 8,
            _ => bitness / 8,
        };
    }

    /// <summary>
    /// Segment register index of a memory operand (ES=0 ... GS=5). In 64-bit mode ES, CS, SS and
    /// DS overrides are ignored (SDM vol. 1, 3.3.7.1): the default segment applies, SS for a base
    /// of RSP or RBP (ESP or EBP with an address-size prefix), DS otherwise (SDM vol. 1, 3.7.4).
    /// </summary>
    internal static int MemorySegment(in Instruction i)
    {
        var seg = i.MemorySegment;
        if (i.CodeSize == CodeSize.Code64 && seg is not (Register.FS or Register.GS))
            seg = i.MemoryBase is Register.RSP or Register.RBP or Register.ESP or Register.EBP ? Register.SS : Register.DS;
        return seg - Register.ES;
    }

    /// <summary>Linear address of the memory operand, checked for <paramref name="kind"/>.</summary>
    internal ulong MemoryLinear(in Instruction i, int size, AccessKind kind) =>
        LinearAddress(MemorySegment(i), EffectiveAddress(i), size, kind);

    internal bool UserAccess => Cpl == 3;

    internal ulong ReadOperand(in Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
                return ReadRegister(i.GetOpRegister(n));
            case OpKind.Memory:
                return ReadLinear(MemoryLinear(i, size, AccessKind.Read), size, UserAccess);
            case OpKind.Immediate8:
            case OpKind.Immediate8_2nd:
            case OpKind.Immediate16:
            case OpKind.Immediate32:
            case OpKind.Immediate64:
            case OpKind.Immediate8to16:
            case OpKind.Immediate8to32:
            case OpKind.Immediate8to64:
            case OpKind.Immediate32to64:
                return i.GetImmediate(n) & SizeMask(size);
            default:
                throw CpuFault.UD();
        }
    }

    internal void WriteOperand(in Instruction i, int n, int size, ulong value)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
                WriteRegister(i.GetOpRegister(n), value & SizeMask(size));
                break;
            case OpKind.Memory:
                WriteLinear(MemoryLinear(i, size, AccessKind.Write), size, value, UserAccess);
                break;
            default:
                throw CpuFault.UD();
        }
    }

    /// <summary>
    /// A resolved destination for read-modify-write instructions: the memory operand's address
    /// is computed and checked for writing once, before the read (a write-protected destination
    /// faults before anything changes).
    /// </summary>
    internal readonly struct Destination
    {
        public readonly Register Register;
        public readonly ulong Linear;
        public readonly int Size;

        public Destination(Register register, ulong linear, int size)
        {
            Register = register;
            Linear = linear;
            Size = size;
        }

        public bool IsMemory => Register == Register.None;
    }

    internal Destination ResolveDestination(in Instruction i, int n, int size)
    {
        if (i.GetOpKind(n) == OpKind.Register)
            return new Destination(i.GetOpRegister(n), 0, size);
        if (i.GetOpKind(n) != OpKind.Memory)
            throw CpuFault.UD();
        ulong la = MemoryLinear(i, size, AccessKind.Write);
        CheckWritable(la, size);
        return new Destination(Register.None, la, size);
    }

    /// <summary>
    /// Checks every page a read-modify-write destination touches for writing, before the read, as
    /// a locked RMW would: its read is a write access, so a #PF on either page has W = 1 in the
    /// error code (SDM vol. 3, 4.7; silicon: `add qword [rax], -1` crossing into a not-present
    /// page reports W = 1), and a write-protected destination faults before anything changes.
    /// </summary>
    internal void CheckWritable(ulong la, int size)
    {
        if ((Cr0Value & Cr0.PG) == 0)
            return;
        _ = Translate(la, AccessKind.Write, UserAccess);
        ulong last = la + (ulong)size - 1;
        if (Bitness != 64)
            last &= 0xFFFFFFFF;

        // The second page from its first byte, as the split write itself translates it (CR2).
        if (((last ^ la) >> 12) != 0)
            _ = Translate(last & ~(ulong)PageMask, AccessKind.Write, UserAccess);
    }

    internal ulong Read(in Destination d) =>
        d.IsMemory ? ReadLinear(d.Linear, d.Size, UserAccess) : ReadRegister(d.Register);

    internal void Write(in Destination d, ulong value)
    {
        if (d.IsMemory)
            WriteLinear(d.Linear, d.Size, value, UserAccess);
        else
            WriteRegister(d.Register, value & SizeMask(d.Size));
    }
}
