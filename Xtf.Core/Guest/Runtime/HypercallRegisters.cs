using Iced.Intel;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// XTF's hypercall register ABI (arch/x86/include/arch/hypercall-x86_*.h), for snippets that make
/// a hypercall themselves: the five arguments in RDI, RSI, RDX, R10, R8 in 64-bit code, EBX, ECX,
/// EDX, ESI, EDI in 32-bit code.
/// </summary>
public static class HypercallRegisters
{
    /// <summary>Emits MOVs of the five arguments into the argument registers for the assembler's bitness (32-bit code takes the low 32 bits of each). RAX (the hypercall number) is the caller's.</summary>
    public static void Load(Assembler a, HypercallArgs args)
    {
        if (a.Bitness == 64)
        {
            a.mov(rdi, args.A1);
            a.mov(rsi, args.A2);
            a.mov(rdx, args.A3);
            a.mov(r10, args.A4);
            a.mov(r8, args.A5);
            return;
        }

        a.mov(ebx, (uint)args.A1);
        a.mov(ecx, (uint)args.A2);
        a.mov(edx, (uint)args.A3);
        a.mov(esi, (uint)args.A4);
        a.mov(edi, (uint)args.A5);
    }
}
