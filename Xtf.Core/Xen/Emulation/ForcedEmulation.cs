using Xtf.Core.Cpu;

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

    /// <summary>Moves CS:RIP past the prefix as hvm_ud_intercept does.</summary>
    internal static void Skip(X86Cpu cpu)
    {
        cpu.Rip += (ulong)Signature.Length;
        if (cpu.Bitness != 64)
            cpu.Rip &= 0xFFFFFFFF;
        cpu.Eflags &= ~RFlags.RF;
    }
}
