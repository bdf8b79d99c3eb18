using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Port I/O: IN and OUT, and the protection check shared with INS/OUTS (SDM vol. 1, 18.5).</summary>
internal static class InputOutput
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.In, In);
        add(Mnemonic.Out, Out);
    }

    private static ushort Port(X86Cpu cpu, in Instruction i, int n) =>
        i.GetOpKind(n) == OpKind.Immediate8 ? i.Immediate8 : (ushort)cpu.ReadGpr(X86Cpu.RDX, 2);

    private static void In(X86Cpu cpu, in Instruction i)
    {
        int size = i.Op0Register.GetSize();
        ushort port = Port(cpu, i, 1);
        CheckIoPermission(cpu, port, size);
        cpu.WriteGpr(X86Cpu.RAX, size, cpu.Ports.In(port, size));
    }

    private static void Out(X86Cpu cpu, in Instruction i)
    {
        int size = i.Op1Register.GetSize();
        ushort port = Port(cpu, i, 0);
        CheckIoPermission(cpu, port, size);
        cpu.Ports.Out(port, size, (uint)cpu.ReadGpr(X86Cpu.RAX, size));
    }

    /// <summary>
    /// SDM vol. 1, 18.5.2: in protected mode with CPL &gt; IOPL, and always in virtual-8086 mode,
    /// every bit for the accessed ports in the 32-bit TSS's I/O permission bitmap must be clear;
    /// a bitmap beyond the TSS limit, or a 16-bit TSS, denies access. Denial is #GP(0).
    /// </summary>
    internal static void CheckIoPermission(X86Cpu cpu, ushort port, int size)
    {
        if (!cpu.ProtectedMode || (!cpu.Virtual8086 && cpu.Cpl <= cpu.Iopl))
            return;
        var tr = cpu.Tr;
        if (!tr.Usable || (tr.Type & 8) == 0 || tr.Limit < 0x67)
            throw CpuFault.GP(0);
        uint bitmapBase = (uint)cpu.ReadImplicit(cpu.LongMode ? tr.Base + 0x66 : (tr.Base + 0x66) & 0xFFFFFFFF, 2);
        uint byteOffset = bitmapBase + (uint)(port >> 3);
        // Two bytes are always read, so a check that spans a byte boundary is covered.
        if (byteOffset + 1 > tr.Limit)
            throw CpuFault.GP(0);
        ulong la = cpu.LongMode ? tr.Base + byteOffset : (tr.Base + byteOffset) & 0xFFFFFFFF;
        uint bits = (uint)cpu.ReadImplicit(la, 2);
        uint mask = ((1u << size) - 1) << (port & 7);
        if ((bits & mask) != 0)
            throw CpuFault.GP(0);
    }
}
