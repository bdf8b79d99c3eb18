using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;

namespace Xtf.Core.Xen.Emulation;

/// <summary>
/// The forced emulation prefix (Xen's <c>hvm_fep</c> debug option): <c>ud2a; .ascii "xen"</c>
/// before an instruction. On the #UD intercept the hypervisor reads the five bytes at CS:IP
/// through the guest's page tables; if they are the prefix, IP moves past it (truncated to 32 bits
/// outside 64-bit code), RF is cleared, and the next instruction is emulated.
/// </summary>
public static class ForcedEmulation
{
    /// <summary>The prefix bytes: UD2 (0F 0B) and the ASCII of "xen".</summary>
    public static ReadOnlySpan<byte> Signature => [0x0F, 0x0B, 0x78, 0x65, 0x6E];

    /// <summary>True if CS:RIP holds the prefix, read as an instruction fetch at the current CPL would.</summary>
    internal static bool AtPrefix(X86Cpu cpu)
    {
        var cs = cpu.Segments[X86Cpu.CS];
        try
        {
            for (int i = 0; i < Signature.Length; i++)
            {
                ulong ip = cpu.Rip + (ulong)i;
                ulong linear = ip;
                if (cpu.Bitness != 64)
                {
                    if (ip > cs.Limit)
                        return false;
                    linear = (cs.Base + ip) & 0xFFFFFFFF;
                }

                ulong physical = cpu.Translate(linear, AccessKind.Execute, cpu.Cpl == 3);
                if (cpu.ReadPhysical(physical, 1) != Signature[i])
                    return false;
            }
        }
        catch (CpuFault)
        {
            // A prefix that cannot be read is not a prefix: the #UD stands.
            return false;
        }

        return true;
    }

    /// <summary>Moves CS:RIP past the prefix as hvm_ud_intercept does.</summary>
    internal static void Skip(X86Cpu cpu)
    {
        cpu.Rip += (ulong)Signature.Length;
        if (cpu.Bitness != 64)
            cpu.Rip &= 0xFFFFFFFF;
        cpu.Eflags &= ~RFlags.RF;
    }
}
