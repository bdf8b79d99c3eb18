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
        int aliased = StaleRegisterPointer.AliasedOperand(e, in i);
        if (aliased >= 0)
        {
            MovThroughStalePointer(e, in i, aliased);
            return;
        }

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

        if (!regDest)
            SegmentedOperands.Write(e, in i, size, value);
        else
            cpu.WriteRegister(i.Op0Register, value & X86Cpu.SizeMask(size));
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>
    /// MOV with a segment override and a ModRM register operand under quirk xsa-123: that operand
    /// is read or written through the stale pointer (<see cref="StaleRegisterPointer"/>), not in
    /// the guest's register. r/m as destination (88, 89, C6, C7, 8C): the value goes to hypervisor
    /// memory; r/m as source (8A, 8B, 8E): the value comes from there.
    /// </summary>
    private static void MovThroughStalePointer(HvmEmulator e, in Instruction i, int aliased)
    {
        var cpu = e.Cpu;
        if (aliased == 0)
        {
            bool fromSreg = i.Op1Kind == OpKind.Register && i.Op1Register.IsSegmentRegister();
            ulong value = fromSreg ? cpu.Segments[i.Op1Register - Register.ES].Selector
                : i.Op1Kind == OpKind.Register ? cpu.ReadRegister(i.Op1Register)
                : i.GetImmediate(1);
            StaleRegisterPointer.Write(e, in i, i.Op0Register.GetSize(), value);
        }
        else if (i.Op0Register.IsSegmentRegister())
        {
            int seg = i.Op0Register - Register.ES;
            if (seg == X86Cpu.CS)
                throw CpuFault.UD();
            SegmentLoads.Load(e, seg, (ushort)StaleRegisterPointer.Read(e, in i, 2));
            if (seg == X86Cpu.SS)
                cpu.InhibitInterrupts();
        }
        else
        {
            int size = i.Op0Register.GetSize();
            cpu.WriteRegister(i.Op0Register, StaleRegisterPointer.Read(e, in i, size) & X86Cpu.SizeMask(size));
        }

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
