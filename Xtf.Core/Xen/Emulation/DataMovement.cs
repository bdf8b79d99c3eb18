using Iced.Intel;
using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// MOV and POP in the emulator, so that their memory operands go through the emulator's own
/// segmentation (<see cref="SegmentedOperands"/>) and segment-register loads through its own
/// checks (<see cref="SegmentLoads"/>). MOV to and from control and debug registers and the other
/// POP forms keep the processor's semantics.
/// </summary>
internal static class DataMovement
{
    public static void Install(Action<Mnemonic, EmulationHandler> own)
    {
        own(Mnemonic.Mov, Mov);
        own(Mnemonic.Pop, Pop);
    }

    /// <summary>
    /// MOV (SDM vol. 2, MOV): r/m &lt;- reg, reg &lt;- r/m, r/m &lt;- imm, the moffs forms, and
    /// MOV Sreg in both directions. A segment override prefix has no effect on a register operand.
    /// </summary>
    private static void Mov(HvmEmulator e, in Instruction i)
    {
        var cpu = e.Cpu;
        bool regDest = i.Op0Kind == OpKind.Register;
        if (regDest && i.Op0Register.IsSegmentRegister())
        {
            SegmentLoads.MovToSreg(e, in i);
            return;
        }

        bool control = (regDest && (i.Op0Register.IsCR() || i.Op0Register.IsDR()))
            || (i.Op1Kind == OpKind.Register && (i.Op1Register.IsCR() || i.Op1Register.IsDR()));
        if (control)
        {
            cpu.ExecuteInstruction(in i);
            return;
        }

        ulong value;
        int size;
        if (i.Op1Kind == OpKind.Register && i.Op1Register.IsSegmentRegister())
        {
            // MOV r/m, Sreg: a 16-bit store to memory; a register destination gets the selector
            // zero-extended to the operand size.
            value = cpu.Segments[i.Op1Register - Register.ES].Selector;
            size = regDest ? i.Op0Register.GetSize() : 2;
        }
        else
        {
            size = regDest ? i.Op0Register.GetSize() : i.MemorySize.GetSize();
            value = i.Op1Kind switch
            {
                OpKind.Register => cpu.ReadRegister(i.Op1Register),
                OpKind.Memory => SegmentedOperands.Read(e, in i, size),
                _ => i.GetImmediate(1) & X86Cpu.SizeMask(size),
            };
        }

        // XSA-123: with an explicit segment override on a register destination, Xen took the
        // destination for memory and wrote through a pointer half-overwritten by the segment
        // number, into hypervisor memory: the guest's register is left as it was.
        if (!regDest)
            SegmentedOperands.Write(e, in i, size, value);
        else if (!(i.SegmentPrefix != Register.None && e.Options.Has(Quirk.Xsa123)))
            cpu.WriteRegister(i.Op0Register, value & X86Cpu.SizeMask(size));
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>POP Sreg is a segment-register load; every other POP keeps the processor's semantics.</summary>
    private static void Pop(HvmEmulator e, in Instruction i)
    {
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister())
            SegmentLoads.PopSreg(e, in i);
        else
            e.Cpu.ExecuteInstruction(in i);
    }
}
