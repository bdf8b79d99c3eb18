using Iced.Intel;

namespace Xtf.Core.Guest.Runtime;

/// <summary>XTF's <c>_ASM_XEN_FEP</c> for snippets assembled with Iced.</summary>
public static class ForcedEmulationPrefix
{
    /// <summary>
    /// Emits the forced emulation prefix (<c>ud2a; .ascii "xen"</c>), which sends the next
    /// instruction through the hypervisor's emulator when Xen runs with <c>hvm_fep</c>; otherwise
    /// the UD2 raises #UD. Exec snippets have an instruction boundary after it, so a fault of the
    /// emulated instruction is recorded like one of the instruction run natively.
    /// </summary>
    public static void Fep(this Assembler asm) => asm.db(Xen.Emulation.ForcedEmulation.Signature.ToArray());
}
