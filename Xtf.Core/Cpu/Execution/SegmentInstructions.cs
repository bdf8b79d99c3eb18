using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>Far-pointer loads LDS/LES/LFS/LGS/LSS (SDM vol. 2, LDS/LES/LFS/LGS/LSS).</summary>
internal static class SegmentInstructions
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Lds, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.DS));
        add(Mnemonic.Les, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.ES));
        add(Mnemonic.Lfs, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.FS));
        add(Mnemonic.Lgs, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.GS));
        add(Mnemonic.Lss, (X86Cpu c, in Instruction i) => LoadFarPointer(c, i, X86Cpu.SS));
    }

    /// <summary>Reads offset then selector from m16:16/32/64, loads the segment, then the register.</summary>
    private static void LoadFarPointer(X86Cpu cpu, in Instruction i, int seg)
    {
        if (i.Op1Kind != OpKind.Memory)
            throw CpuFault.UD();
        int size = i.Op0Register.GetSize();
        int mseg = X86Cpu.MemorySegment(i);
        ulong ea = cpu.EffectiveAddress(i);
        ulong offset = cpu.ReadLogical(mseg, ea, size);
        ushort selector = (ushort)cpu.ReadLogical(mseg, (ea + (ulong)size) & X86Cpu.SizeMask(cpu.AddressSize(i)), 2);
        cpu.LoadSegment(seg, selector);
        cpu.WriteRegister(i.Op0Register, offset);
    }
}
