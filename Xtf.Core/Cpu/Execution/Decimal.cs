using Iced.Intel;

namespace Xtf.Core.Cpu.Execution;

/// <summary>
/// BCD adjustment: DAA, DAS, AAA, AAS, AAM, AAD (SDM vol. 2). All are #UD in 64-bit mode. Flags the
/// SDM calls undefined (OF after DAA/DAS; OF, SF, ZF, PF after AAA/AAS; OF, AF, CF after AAM/AAD)
/// are left unchanged.
/// </summary>
internal static class Decimal
{
    public static void Install(Action<Mnemonic, InstructionHandler> add)
    {
        add(Mnemonic.Daa, (X86Cpu c, in Instruction i) => DecimalAdjust(c, subtract: false));
        add(Mnemonic.Das, (X86Cpu c, in Instruction i) => DecimalAdjust(c, subtract: true));
        add(Mnemonic.Aaa, (X86Cpu c, in Instruction i) => AsciiAdjust(c, subtract: false));
        add(Mnemonic.Aas, (X86Cpu c, in Instruction i) => AsciiAdjust(c, subtract: true));
        add(Mnemonic.Aam, Aam);
        add(Mnemonic.Aad, Aad);
    }

    private static void RequireLegacyMode(X86Cpu cpu)
    {
        if (cpu.Bitness == 64)
            throw CpuFault.UD();
    }

    /// <summary>
    /// DAA/DAS (SDM pseudo-code): if the low nibble is above 9 or AF is set, AL +/- 6 (AF = 1, CF =
    /// old CF or the carry/borrow of that step); then if the original AL was above 99h or the
    /// original CF was set, AL +/- 60h and CF = 1. DAA clears CF otherwise; DAS leaves the CF of
    /// the first step. SF, ZF, PF follow AL.
    /// </summary>
    private static void DecimalAdjust(X86Cpu cpu, bool subtract)
    {
        RequireLegacyMode(cpu);
        uint al = (uint)cpu.ReadGpr(X86Cpu.RAX, 1);
        uint oldAl = al;
        bool oldCf = (cpu.Eflags & RFlags.CF) != 0;
        bool af = (cpu.Eflags & RFlags.AF) != 0;
        bool cf = false;
        if ((al & 0xF) > 9 || af)
        {
            uint adjusted = subtract ? al - 6 : al + 6;
            cf = oldCf || adjusted > 0xFF; // carry out of (or borrow into) bit 7
            al = adjusted & 0xFF;
            af = true;
        }
        else
        {
            af = false;
        }

        if (oldAl > 0x99 || oldCf)
        {
            al = (subtract ? al - 0x60 : al + 0x60) & 0xFF;
            cf = true;
        }
        else if (!subtract)
        {
            cf = false;
        }

        cpu.WriteGpr(X86Cpu.RAX, 1, al);
        uint flags = FlagLogic.SignZeroParity(al, 1) | (cf ? RFlags.CF : 0) | (af ? RFlags.AF : 0);
        FlagLogic.Set(cpu, flags, RFlags.CF | RFlags.AF | RFlags.SF | RFlags.ZF | RFlags.PF);
    }

    /// <summary>
    /// AAA/AAS (SDM pseudo-code): if the low nibble of AL is above 9 or AF is set, AAA adds 106h to
    /// AX and AAS subtracts 6 from AX and 1 from AH, and AF = CF = 1; else AF = CF = 0. Either way
    /// AL keeps only its low nibble.
    /// </summary>
    private static void AsciiAdjust(X86Cpu cpu, bool subtract)
    {
        RequireLegacyMode(cpu);
        uint ax = (uint)cpu.ReadGpr(X86Cpu.RAX, 2);
        bool adjust = (ax & 0xF) > 9 || (cpu.Eflags & RFlags.AF) != 0;
        if (adjust)
            ax = subtract ? ax - 6 - 0x100 : ax + 0x106;
        ax = (ax & 0xFF00) | (ax & 0x0F);
        cpu.WriteGpr(X86Cpu.RAX, 2, ax);
        FlagLogic.Set(cpu, adjust ? RFlags.AF | RFlags.CF : 0, RFlags.AF | RFlags.CF);
    }

    /// <summary>AAM imm8: AH = AL / imm8, AL = AL MOD imm8; #DE when imm8 is 0. SF, ZF, PF follow AL.</summary>
    private static void Aam(X86Cpu cpu, in Instruction i)
    {
        RequireLegacyMode(cpu);
        uint divisor = i.Immediate8;
        if (divisor == 0)
            throw new CpuFault(X86Vector.DE);
        uint al = (uint)cpu.ReadGpr(X86Cpu.RAX, 1);
        uint result = al % divisor;
        cpu.WriteGpr(X86Cpu.RAX, 2, ((al / divisor) << 8) | result);
        FlagLogic.Set(cpu, FlagLogic.SignZeroParity(result, 1), RFlags.SF | RFlags.ZF | RFlags.PF);
    }

    /// <summary>AAD imm8: AL = (AL + AH * imm8) AND FFh, AH = 0. SF, ZF, PF follow AL.</summary>
    private static void Aad(X86Cpu cpu, in Instruction i)
    {
        RequireLegacyMode(cpu);
        uint ax = (uint)cpu.ReadGpr(X86Cpu.RAX, 2);
        uint al = ((ax & 0xFF) + ((ax >> 8) * i.Immediate8)) & 0xFF;
        cpu.WriteGpr(X86Cpu.RAX, 2, al);
        FlagLogic.Set(cpu, FlagLogic.SignZeroParity(al, 1), RFlags.SF | RFlags.ZF | RFlags.PF);
    }
}
