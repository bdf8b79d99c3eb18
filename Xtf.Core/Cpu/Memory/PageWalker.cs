namespace Xtf.Core.Cpu.Memory;

/// <summary>
/// Linear-to-physical translation with CR0.PG set (SDM vol. 3, chapter 4). This walker handles
/// 32-bit paging (4.3) with 4 KiB and, under CR4.PSE, 4 MiB pages; PAE and 4-level paging raise
/// #GP at the CR write that would enable them until they are implemented.
/// </summary>
internal static class PageWalker
{
    private const ulong P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80;

    public static ulong Translate(X86Cpu cpu, ulong linear, AccessKind kind, bool user)
    {
        uint la = (uint)linear;
        ulong pdeAddr = (cpu.Cr3 & 0xFFFFF000) + ((la >> 22) << 2);
        ulong pde = cpu.ReadPhysical(pdeAddr, 4);
        if ((pde & P) == 0)
            throw Fault(cpu, linear, kind, user, present: false);

        if ((pde & PS) != 0 && (cpu.Cr4Value & Cr4.PSE) != 0)
        {
            Check(cpu, linear, kind, user, pde);
            SetAccessedDirty(cpu, pdeAddr, pde, kind);
            return (pde & 0xFFC00000) | (la & 0x3FFFFF);
        }

        ulong pteAddr = (pde & 0xFFFFF000) + (((la >> 12) & 0x3FF) << 2);
        ulong pte = cpu.ReadPhysical(pteAddr, 4);
        if ((pte & P) == 0)
            throw Fault(cpu, linear, kind, user, present: false);

        // SDM 4.6: access rights combine the PDE and PTE (both must allow user / write).
        Check(cpu, linear, kind, user, pde & pte);
        if ((pde & A) == 0)
            cpu.WritePhysical(pdeAddr, 4, pde | A);
        SetAccessedDirty(cpu, pteAddr, pte, kind);
        return (pte & 0xFFFFF000) | (la & 0xFFF);
    }

    private static void Check(X86Cpu cpu, ulong linear, AccessKind kind, bool user, ulong rights)
    {
        if (user && (rights & US) == 0)
            throw Fault(cpu, linear, kind, user, present: true);
        bool wp = (cpu.Cr0Value & Cr0.WP) != 0;
        if (kind == AccessKind.Write && (rights & RW) == 0 && (user || wp))
            throw Fault(cpu, linear, kind, user, present: true);
    }

    private static void SetAccessedDirty(X86Cpu cpu, ulong addr, ulong entry, AccessKind kind)
    {
        ulong updated = entry | A | (kind == AccessKind.Write ? D : 0);
        if (updated != entry)
            cpu.WritePhysical(addr, 4, updated);
    }

    /// <summary>#PF error code (SDM 4.7): P, W/R, U/S, RSVD, I/D; CR2 is the linear address.</summary>
    private static CpuFault Fault(X86Cpu cpu, ulong linear, AccessKind kind, bool user, bool present)
    {
        _ = cpu;
        uint code = (present ? 1u : 0) | (kind == AccessKind.Write ? 2u : 0) | (user ? 4u : 0);
        return new CpuFault(X86Vector.PF, code) { FaultAddress = linear };
    }
}
