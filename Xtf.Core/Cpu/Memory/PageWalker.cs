namespace Xtf.Core.Cpu.Memory;

/// <summary>
/// Linear-to-physical translation with CR0.PG set (SDM vol. 3, chapter 4): 32-bit paging (4.3,
/// 4 KiB and, under CR4.PSE, 4 MiB pages), PAE paging (4.4, the four PDPTE registers, 2 MiB
/// pages) and 4-level paging (4.5, 2 MiB and 1 GiB pages). The walk checks, top-down, each
/// entry's P flag (#PF, P=0) and reserved bits (#PF, RSVD=1); then the access against the rights
/// all levels combine to (4.6): U/S and R/W are the AND of every level, XD the OR. Accessed flags
/// (and the leaf's dirty flag for a write) are set only once the access is allowed (4.8).
/// </summary>
internal static class PageWalker
{
    public const ulong P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100, XD = 1ul << 63;

    /// <summary>Bits (M-1):12 of an entry, the physical address it holds (M = MAXPHYADDR).</summary>
    private static readonly ulong FrameBits = ((1ul << CpuidLeaves.PhysicalAddressBits) - 1) & ~0xFFFul;

    /// <summary>Bits 51:M, reserved in every 4-level entry; in PAE entries bits 62:M are.</summary>
    private static readonly ulong Above4Level = ((1ul << 52) - 1) & ~((1ul << CpuidLeaves.PhysicalAddressBits) - 1);
    private static readonly ulong AbovePae = ((1ul << 63) - 1) & ~((1ul << CpuidLeaves.PhysicalAddressBits) - 1);

    /// <summary>
    /// Translates <paramref name="linear"/> for an access of <paramref name="kind"/> (a user-mode
    /// access when <paramref name="user"/>), faulting with #PF as the SDM says; on success fills
    /// <paramref name="entry"/> for the TLB.
    /// </summary>
    public static ulong Translate(X86Cpu cpu, ulong linear, AccessKind kind, bool user, bool implicitAccess, out TlbEntry entry)
    {
        var w = new Walk(cpu, linear, kind, user, implicitAccess);
        ulong xdReserved = (cpu.EferValue & Efer.NXE) != 0 ? 0 : XD;
        if ((cpu.Cr4Value & Cr4.PAE) == 0)
        {
            // 32-bit paging (4.3): CR3 -> PDE -> PTE, or a 4 MiB page with CR4.PSE. Without PSE-36,
            // bits 21:13 of a 4 MiB PDE are reserved (table 4-5, M = 32 for this purpose).
            uint la = (uint)linear;
            ulong pde = w.Next((cpu.Cr3 & 0xFFFFF000) + ((la >> 22) << 2), 4, 0);
            if ((pde & PS) != 0 && (cpu.Cr4Value & Cr4.PSE) != 0)
            {
                if ((pde & 0x3FE000) != 0)
                    throw w.Fault(FaultCause.Reserved);
                return w.Complete(pde, 0x3FFFFF, out entry);
            }

            ulong pte = w.Next((pde & 0xFFFFF000) + (((la >> 12) & 0x3FF) << 2), 4, 0);
            return w.Complete(pte, 0xFFF, out entry);
        }

        ulong table, above;
        if ((cpu.EferValue & Efer.LMA) == 0)
        {
            // PAE paging (4.4): the PDPTE registers loaded at the last CR3 write (their reserved
            // bits were checked then, with #GP); PDPTEs carry no access rights.
            w.Linear &= 0xFFFFFFFF;
            ulong pdpte = cpu.Pdpte[(int)((w.Linear >> 30) & 3)];
            if ((pdpte & P) == 0)
                throw w.Fault(FaultCause.NotPresent);
            table = pdpte & FrameBits;
            above = AbovePae;
        }
        else
        {
            // 4-level paging (4.5): PML4E (PS reserved) -> PDPTE (PS: a 1 GiB page, bits 29:13 reserved).
            ulong pml4e = w.Next((cpu.Cr3 & FrameBits) + (((linear >> 39) & 0x1FF) << 3), 8, Above4Level | PS | xdReserved);
            ulong pdpte = w.Next((pml4e & FrameBits) + (((linear >> 30) & 0x1FF) << 3), 8, Above4Level | xdReserved);
            if ((pdpte & PS) != 0)
            {
                if (!CpuidLeaves.Pages1G || (pdpte & 0x3FFFE000) != 0)
                    throw w.Fault(FaultCause.Reserved);
                return w.Complete(pdpte, 0x3FFFFFFF, out entry);
            }

            table = pdpte & FrameBits;
            above = Above4Level;
        }

        ulong pde64 = w.Next(table + (((w.Linear >> 21) & 0x1FF) << 3), 8, above | xdReserved);
        if ((pde64 & PS) != 0)
        {
            // A 2 MiB page: bits 20:13 are reserved (tables 4-10, 4-17).
            if ((pde64 & 0x1FE000) != 0)
                throw w.Fault(FaultCause.Reserved);
            return w.Complete(pde64, 0x1FFFFF, out entry);
        }

        ulong pte64 = w.Next((pde64 & FrameBits) + (((w.Linear >> 12) & 0x1FF) << 3), 8, above | xdReserved);
        return w.Complete(pte64, 0xFFF, out entry);
    }

    /// <summary>
    /// Which accesses the combined rights allow (SDM vol. 3, 4.6.1): user accesses need U/S=1 at
    /// every level, writes R/W=1; supervisor writes to read-only pages are allowed only with
    /// CR0.WP=0; fetches need XD=0 (with EFER.NXE); SMEP forbids supervisor fetches from user pages;
    /// SMAP forbids supervisor data accesses to user pages unless EFLAGS.AC=1. Write rights are
    /// withheld from a TLB entry whose dirty flag is not yet set.
    /// </summary>
    private static TlbRights Rights(X86Cpu cpu, ulong rights, ulong xd, bool dirty)
    {
        bool userPage = (rights & US) != 0, writable = (rights & RW) != 0;
        bool executable = xd == 0 || (cpu.EferValue & Efer.NXE) == 0;
        bool wp = (cpu.Cr0Value & Cr0.WP) != 0;
        bool smap = userPage && (cpu.Cr4Value & Cr4.SMAP) != 0;
        bool smep = userPage && (cpu.Cr4Value & Cr4.SMEP) != 0;
        bool supervisorWrite = dirty && (writable || !wp);
        var r = TlbRights.None;
        if (userPage)
        {
            r |= TlbRights.UserRead;
            if (writable && dirty)
                r |= TlbRights.UserWrite;
            if (executable)
                r |= TlbRights.UserExecute;
        }

        if (executable && !smep)
            r |= TlbRights.SupervisorExecute;
        r |= TlbRights.SupervisorReadAc | (supervisorWrite ? TlbRights.SupervisorWriteAc : 0);
        if (!smap)
            r |= TlbRights.SupervisorRead | (supervisorWrite ? TlbRights.SupervisorWrite : 0);
        return r;
    }

    /// <summary>
    /// The right an access needs: its kind, user or supervisor, and for explicit supervisor data
    /// accesses EFLAGS.AC (SMAP); implicit supervisor accesses are checked as with AC clear (4.6).
    /// </summary>
    public static TlbRights Need(X86Cpu cpu, AccessKind kind, bool user, bool implicitAccess)
    {
        bool ac = !implicitAccess && cpu.AlignmentCheckFlag;
        return (kind, user) switch
        {
            (AccessKind.Read, true) => TlbRights.UserRead,
            (AccessKind.Write, true) => TlbRights.UserWrite,
            (AccessKind.Execute, true) => TlbRights.UserExecute,
            (AccessKind.Execute, false) => TlbRights.SupervisorExecute,
            (AccessKind.Read, false) => ac ? TlbRights.SupervisorReadAc : TlbRights.SupervisorRead,
            _ => ac ? TlbRights.SupervisorWriteAc : TlbRights.SupervisorWrite,
        };
    }

    /// <summary>The entries of one walk, top-down, and the rights they combine to.</summary>
    private struct Walk
    {
        public ulong Linear;
        private readonly X86Cpu cpu;
        private readonly AccessKind kind;
        private readonly bool user;
        private readonly bool implicitAccess;
        private readonly int entrySize;
        private Entries addresses, values;
        private int levels;
        private ulong rights, xd;

        public Walk(X86Cpu cpu, ulong linear, AccessKind kind, bool user, bool implicitAccess)
        {
            this.cpu = cpu;
            Linear = linear;
            this.kind = kind;
            this.user = user;
            this.implicitAccess = implicitAccess;
            entrySize = (cpu.Cr4Value & Cr4.PAE) != 0 ? 8 : 4;
            rights = US | RW;
        }

        /// <summary>Reads the next entry down: P=0 is #PF (not present), a reserved bit #PF (RSVD).</summary>
        public ulong Next(ulong address, int size, ulong reserved)
        {
            ulong e = cpu.ReadPhysical(address, size);
            if ((e & P) == 0)
                throw Fault(FaultCause.NotPresent);
            if ((e & reserved) != 0)
                throw Fault(FaultCause.Reserved);
            addresses[levels] = address;
            values[levels++] = e;
            rights &= e;
            xd |= e & XD;
            return e;
        }

        /// <summary>The access-rights check of 4.6 on the combined rights, then the A/D updates of 4.8.</summary>
        public ulong Complete(ulong leaf, ulong pageMask, out TlbEntry entry)
        {
            if ((Rights(cpu, rights, xd, dirty: true) & Need(cpu, kind, user, implicitAccess)) == 0)
                throw Fault(FaultCause.Protection);
            for (int i = 0; i < levels; i++)
            {
                ulong updated = values[i] | A | (i == levels - 1 && kind == AccessKind.Write ? D : 0);
                if (updated != values[i])
                    cpu.WritePhysical(addresses[i], entrySize, updated);
                values[i] = updated;
            }

            ulong physical = (leaf & FrameBits & ~pageMask) | (Linear & pageMask);
            entry = new TlbEntry
            {
                Tag = (Linear >> 12) + 1,
                Frame = physical & ~0xFFFul,
                PageBase = Linear & ~pageMask,
                PageMask = pageMask,
                Rights = Rights(cpu, rights, xd, dirty: (values[levels - 1] & D) != 0),
                Global = (leaf & G) != 0 && (cpu.Cr4Value & Cr4.PGE) != 0,
            };
            return physical;
        }

        public readonly CpuFault Fault(FaultCause cause) => PageWalker.Fault(cpu, Linear, kind, user, cause);
    }

    [System.Runtime.CompilerServices.InlineArray(4)]
    private struct Entries
    {
        private ulong element;
    }

    private enum FaultCause
    {
        NotPresent,
        Reserved,
        Protection,
    }

    /// <summary>
    /// #PF with CR2 = the linear address and the error code of SDM vol. 3, 4.7: P (not a
    /// not-present entry), W/R, U/S, RSVD, and I/D for a fetch when SMEP is on or NX is possible
    /// (PAE or 4-level paging with EFER.NXE).
    /// </summary>
    private static CpuFault Fault(X86Cpu cpu, ulong linear, AccessKind kind, bool user, FaultCause cause)
    {
        uint code = cause == FaultCause.NotPresent ? 0u : 1u;
        if (kind == AccessKind.Write)
            code |= 2;
        if (user)
            code |= 4;
        if (cause == FaultCause.Reserved)
            code |= 8;
        bool nxPossible = (cpu.Cr4Value & Cr4.PAE) != 0 && (cpu.EferValue & Efer.NXE) != 0;
        if (kind == AccessKind.Execute && ((cpu.Cr4Value & Cr4.SMEP) != 0 || nxPossible))
            code |= 0x10;
        return new CpuFault(X86Vector.PF, code) { FaultAddress = linear };
    }
}
