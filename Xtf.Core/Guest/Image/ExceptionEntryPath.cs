using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Image;

/// <summary>
/// XTF's handle_exception (arch/x86/entry_{32,64}.S), shared by the HVM and PV images: save the
/// registers as struct cpu_regs on the stack, call do_exception (a host gate) with a pointer to
/// them, restore them and drop the error-code slot. What returns to the interrupted context
/// (IRET, or HYPERVISOR_iret for PV) is the caller's.
/// </summary>
internal static class ExceptionEntryPath
{
    /// <summary>
    /// 32-bit: PUSHAD, DS and ES (then <paramref name="dataSelector"/> in both), the frame's
    /// address pushed as do_exception's cdecl argument; after the call ES, DS, POPAD, and the
    /// vector and error code dropped.
    /// </summary>
    public static void Emit32(Assembler a, ulong doExceptionGate, ushort dataSelector)
    {
        a.pushad();
        a.push(ds);
        a.push(es);
        a.mov(eax, (uint)dataSelector);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.cld();
        a.push(esp);
        a.call((uint)doExceptionGate);
        a.add(esp, 4);
        a.pop(es);
        a.pop(ds);
        a.popad();
        a.add(esp, 8);
    }

    /// <summary>
    /// 64-bit: the GPRs in struct cpu_regs order (RDI first, R15 last, so R15 is at the lowest
    /// address), RDI = the frame (SysV), then the reverse, and the error-code slot (with the
    /// vector in its upper half) dropped.
    /// </summary>
    public static void Emit64(Assembler a, ulong doExceptionGate)
    {
        AssemblerRegister64[] saved = [rdi, rsi, rdx, rcx, rax, r8, r9, r10, r11, rbx, rbp, r12, r13, r14, r15];
        foreach (var r in saved)
            a.push(r);
        a.mov(rdi, rsp);
        a.cld();
        a.call(doExceptionGate);
        for (int i = saved.Length - 1; i >= 0; i--)
            a.pop(saved[i]);
        a.add(rsp, 8);
    }
}
