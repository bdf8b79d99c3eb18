using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Execution;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// CMPXCHG8B m64 in the emulator (SDM vol. 2, CMPXCHG8B/CMPXCHG16B): compare EDX:EAX with m64;
/// if equal, ZF is set and ECX:EBX is stored, else ZF is cleared and m64 is loaded into EDX:EAX.
/// The destination is written either way (unchanged when unequal), so it is checked for writing
/// before the read. The operand is 8 bytes whatever the legacy prefixes: only REX.W changes it
/// (CMPXCHG16B, which is #UD here as CPUID does not enumerate CX16), and a 66 prefix is ignored.
/// Before XSA-200 x86_emulate sized the operand from op_bytes, so a 66 prefix made it read 4
/// bytes and leave the upper half of its buffer as it was (<see cref="Quirk.Xsa200"/>).
/// </summary>
internal static class CompareExchange
{
    /// <summary>
    /// What the unread half of the emulator's operand buffer holds under the quirk: a
    /// hypervisor text address (Xen's image starts at 0xffff82d080000000), standing for the
    /// stack rubble the vulnerable emulator copied into the guest's EDX.
    /// </summary>
    private const ulong HypervisorStackRubble = 0xFFFF82D080000000;

    public static void Install(Action<Mnemonic, EmulationHandler> own) => own(Mnemonic.Cmpxchg8b, Cmpxchg8b);

    private static void Cmpxchg8b(HvmEmulator e, in Instruction i)
    {
        if (i.Op0Kind != OpKind.Memory || i.Code != Code.Cmpxchg8b_m64)
            throw CpuFault.UD();
        if (e.Options.Has(Quirk.Xsa200) && HasOperandSizePrefix(e.Cpu, in i))
        {
            Xsa200Cmpxchg(e, in i);
            return;
        }

        var cpu = e.Cpu;
        bool user = cpu.Cpl == 3;
        ulong linear = cpu.LinearAddress(X86Cpu.MemorySegment(i), cpu.EffectiveAddress(i), 8, AccessKind.Write);
        if ((cpu.Cr0Value & Cr0.PG) != 0)
            _ = cpu.Translate(linear, AccessKind.Write, user);
        ulong m = cpu.ReadLinear(linear, 8, user);
        ulong expected = ((ulong)cpu.Edx << 32) | cpu.Eax;
        bool equal = m == expected;
        cpu.WriteLinear(linear, 8, equal ? ((ulong)cpu.Ecx << 32) | cpu.Ebx : m, user);
        if (!equal)
        {
            cpu.WriteRegister(Register.EAX, (uint)m);
            cpu.WriteRegister(Register.EDX, m >> 32);
        }

        FlagLogic.Set(cpu, equal ? RFlags.ZF : 0, RFlags.ZF);
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>
    /// XSA-200: op_bytes is 2 with the prefix, and the emulator read and compared op_bytes * 2 =
    /// 4 bytes into its 8-byte buffer. Unequal (as the rubble makes it), the whole buffer went to
    /// EDX:EAX and nothing was written; equal, 4 bytes of ECX:EBX were written.
    /// </summary>
    private static void Xsa200Cmpxchg(HvmEmulator e, in Instruction i)
    {
        var cpu = e.Cpu;
        bool user = cpu.Cpl == 3;
        ulong linear = cpu.LinearAddress(X86Cpu.MemorySegment(i), cpu.EffectiveAddress(i), 4, AccessKind.Read);
        ulong old = (HypervisorStackRubble & 0xFFFFFFFF00000000) | cpu.ReadLinear(linear, 4, user);
        bool equal = old == (((ulong)cpu.Edx << 32) | cpu.Eax);
        if (equal)
        {
            cpu.WriteLinear(cpu.LinearAddress(X86Cpu.MemorySegment(i), cpu.EffectiveAddress(i), 4, AccessKind.Write), 4, cpu.Ebx, user);
        }
        else
        {
            cpu.WriteRegister(Register.EAX, (uint)old);
            cpu.WriteRegister(Register.EDX, old >> 32);
        }

        FlagLogic.Set(cpu, equal ? RFlags.ZF : 0, RFlags.ZF);
        cpu.Rip = e.NextIp(in i);
    }

    /// <summary>
    /// Whether the instruction's legacy prefixes include 66. The decoder does not report it for
    /// CMPXCHG8B (the processor ignores it), so the prefix bytes are read again at CS:IP, where
    /// the fetch has just read them.
    /// </summary>
    private static bool HasOperandSizePrefix(X86Cpu cpu, in Instruction i)
    {
        var cs = cpu.Segments[X86Cpu.CS];
        for (int n = 0; n < i.Length; n++)
        {
            ulong ip = cpu.Rip + (ulong)n;
            ulong linear = cpu.Bitness == 64 ? ip : (cs.Base + ip) & 0xFFFFFFFF;
            ulong b = cpu.ReadPhysical(cpu.Translate(linear, AccessKind.Execute, cpu.Cpl == 3), 1);
            switch (b)
            {
                case 0x66:
                    return true;
                case 0x67 or 0xF0 or 0xF2 or 0xF3 or 0x26 or 0x2E or 0x36 or 0x3E or 0x64 or 0x65:
                    continue;
                case >= 0x40 and <= 0x4F when cpu.Bitness == 64:
                    continue;
                default:
                    return false;
            }
        }

        return false;
    }
}
