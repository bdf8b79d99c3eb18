using Xtf.Core.Cpu;

namespace Xtf.Core.Xen.Emulation.Memory;

/// <summary>
/// Xen's software walk of an HVM guest's page tables (mm/guest_walk.c guest_walk_tables, with the
/// reserved-bit rules of asm/guest_pt.h and hap_p2m_ga_to_gfn's use of it), which the emulator's
/// accesses are translated by. It shares nothing with the processor's walker or TLB, and differs
/// from it where Xen does: PAE's four top-level entries are read from guest memory at CR3 (no
/// PDPTE registers); a 1 GiB page needs HAP on a processor with them (under shadow paging L3.PS
/// is reserved); accessed and dirty bits are set bottom-up, each by compare-exchange, and only
/// once the access is allowed. The access is a user one when SS.DPL is 3 (__hvmemul_read), not
/// by CPL; a system-segment access is an implicit supervisor one.
/// </summary>
internal static class GuestPageWalk
{
    // asm/x86-defns.h _PAGE_*; asm/processor.h PFEC_* (PFEC_implicit is the synthetic bit 18, never reported).
    private const ulong Present = 1, Rw = 2, User = 4, Accessed = 0x20, Dirty = 0x40, Pse = 0x80, Global = 0x100, PsePat = 0x1000, Nx = 1ul << 63;
    public const uint PfecPresent = 1, PfecWrite = 2, PfecUser = 4, PfecReserved = 8, PfecInsnFetch = 0x10, PfecImplicit = 1u << 18;

    /// <summary>PADDR_MASK: 52 physical address bits.</summary>
    private const ulong PaddrMask = (1ul << 52) - 1;

    /// <summary>GUEST_L1/L2_PAGETABLE_RSVD for 3-level guests: bits 62:52.</summary>
    private const ulong PaeLeafReserved = 0x7ff0000000000000;

    /// <summary>GUEST_L3_PAGETABLE_RSVD for 3-level guests: bits 63:52, G, PS, D, A, U/S, R/W.</summary>
    private const ulong PaeTopReserved = 0xfff0000000000000 | Global | Pse | Dirty | Accessed | User | Rw;

    /// <summary>
    /// The guest-physical address of <paramref name="linear"/> for an access with
    /// <paramref name="pfec"/> (PFEC_write_access, PFEC_user_mode, PFEC_insn_fetch,
    /// PFEC_implicit), or #PF with the walk's error code and CR2 = the address.
    /// </summary>
    public static ulong Translate(X86Cpu cpu, bool hap, ulong linear, uint pfec)
    {
        var w = new Walk(cpu, hap, linear, pfec);
        return w.Run();
    }

    private ref struct Walk
    {
        private readonly X86Cpu cpu;
        private readonly bool hap;
        private readonly ulong va;
        private readonly uint walk;
        private uint result;
        private ulong arAnd, arOr;

        // The entries read, top-down, and where they live (for the A/D write-back).
        private Span4 addresses, values;
        private int count, entrySize;

        public Walk(X86Cpu cpu, bool hap, ulong va, uint pfec)
        {
            this.cpu = cpu;
            this.hap = hap;
            this.va = va;
            walk = pfec & (PfecImplicit | PfecInsnFetch | PfecUser | PfecWrite);
            result = walk & (PfecUser | PfecWrite);
            // PFEC_insn_fetch is only reported if NX or SMEP are enabled.
            if (NxEnabled || Smep)
                result |= walk & PfecInsnFetch;
            arAnd = ulong.MaxValue;
            arOr = 0;
        }

        private readonly bool Pae => (cpu.Cr4Value & Cr4.PAE) != 0;

        private readonly bool LongMode => (cpu.EferValue & Efer.LMA) != 0;

        /// <summary>guest_nx_enabled: never for 2-level guests (NX has no effect without CR4.PAE).</summary>
        private readonly bool NxEnabled => Pae && (cpu.EferValue & Efer.NXE) != 0;

        private readonly bool Smep => (cpu.Cr4Value & Cr4.SMEP) != 0;

        /// <summary>guest_rsvd_bits: bits 51:maxphysaddr, and NX without EFER.NXE.</summary>
        private readonly ulong RsvdBits => (PaddrMask & ~((1ul << CpuidLeaves.PhysicalAddressBits) - 1)) | (NxEnabled ? 0 : Nx);

        /// <summary>SUPERPAGE_RSVD(bit): the bits between PAT (bit 12) and the superpage's alignment.</summary>
        private static ulong SuperpageRsvd(int bit) => ((1ul << bit) - 1) & ~(PsePat | (PsePat - 1));

        public ulong Run()
        {
            if (!Pae)
                return TwoLevel();

            ulong l2Table;
            if (LongMode)
            {
                ulong l4e = Read((cpu.Cr3 & PaddrMask & ~0xFFFul) + (((va >> 39) & 0x1FF) << 3));
                if ((l4e & Present) == 0)
                    throw Fail();
                // GUEST_L4_PAGETABLE_RSVD: PS (G is reserved only on AMD).
                if ((l4e & (RsvdBits | Pse)) != 0)
                    throw Reserved();
                Accumulate(l4e);

                ulong l3e = Read((l4e & PaddrMask & ~0xFFFul) + (((va >> 30) & 0x1FF) << 3));
                if ((l3e & Present) == 0)
                    throw Fail();
                // guest_can_use_l3_superpages: HAP on hardware with 1 GiB pages.
                bool l3Superpages = hap && CpuidLeaves.Pages1G;
                if ((l3e & (RsvdBits | (l3Superpages ? 0 : Pse))) != 0 || ((l3e & Pse) != 0 && (l3e & SuperpageRsvd(30)) != 0))
                    throw Reserved();
                Accumulate(l3e);
                if ((l3e & Pse) != 0)
                    return Leaf(l3e, 0x3FFFFFFF);
                l2Table = l3e & PaddrMask & ~0xFFFul;
            }
            else
            {
                // PAE: the l3e comes from the guest's memory at CR3 (top_map += cr3 & ~(PAGE_MASK | 31)).
                ulong l3e = Read(((cpu.Cr3 & 0xFFFFFFE0) + (((va >> 30) & 3) << 3)) & 0xFFFFFFFF, remember: false);
                if ((l3e & Present) == 0)
                    throw Fail();
                if ((l3e & (RsvdBits | PaeTopReserved)) != 0)
                    throw Reserved();
                l2Table = l3e & PaddrMask & ~0xFFFul;
            }

            ulong leafRsvd = LongMode ? 0 : PaeLeafReserved;
            ulong l2e = Read(l2Table + (((va >> 21) & 0x1FF) << 3));
            if ((l2e & Present) == 0)
                throw Fail();
            if ((l2e & (RsvdBits | leafRsvd)) != 0 || ((l2e & Pse) != 0 && (l2e & SuperpageRsvd(21)) != 0))
                throw Reserved();
            Accumulate(l2e);
            if ((l2e & Pse) != 0)
                return Leaf(l2e, 0x1FFFFF);

            ulong l1e = Read((l2e & PaddrMask & ~0xFFFul) + (((va >> 12) & 0x1FF) << 3));
            if ((l1e & Present) == 0)
                throw Fail();
            if ((l1e & (RsvdBits | leafRsvd)) != 0)
                throw Reserved();
            Accumulate(l1e);
            return Leaf(l1e, 0xFFF);
        }

        /// <summary>2-level paging: 32-bit entries; L2.PS is honoured with CR4.PSE and ignored without (no reserved bits then); no PSE-36 on this processor.</summary>
        private ulong TwoLevel()
        {
            entrySize = 4;
            uint la = (uint)va;
            ulong l2e = Read((cpu.Cr3 & 0xFFFFF000) + ((la >> 22) << 2));
            if ((l2e & Present) == 0)
                throw Fail();
            bool superpages = (cpu.Cr4Value & Cr4.PSE) != 0;
            if (!superpages)
                l2e &= ~Pse;
            else if ((l2e & Pse) != 0 && (l2e & SuperpageRsvd(22)) != 0)
                throw Reserved();
            Accumulate(l2e);
            if ((l2e & Pse) != 0)
                return Leaf(l2e, 0x3FFFFF);

            ulong l1e = Read((l2e & 0xFFFFF000) + (((la >> 12) & 0x3FF) << 2));
            if ((l1e & Present) == 0)
                throw Fail();
            Accumulate(l1e);
            return Leaf(l1e, 0xFFF);
        }

        private ulong Read(ulong gpa, bool remember = true)
        {
            int size = entrySize == 0 ? 8 : entrySize;
            ulong e = cpu.ReadPhysical(gpa, size);
            if (remember)
            {
                addresses[count] = gpa;
                values[count++] = e;
            }

            return e;
        }

        private void Accumulate(ulong flags)
        {
            arAnd &= flags;
            arOr |= flags;
        }

        /// <summary>The leaf: the access-rights checks of guest_walk_tables, then set_ad_bits bottom-up.</summary>
        private ulong Leaf(ulong entry, ulong pageMask)
        {
            result |= PfecPresent;
            ulong ar = (arAnd & (User | Rw)) | (arOr & Nx);
            bool fetch = (walk & PfecInsnFetch) != 0, write = (walk & PfecWrite) != 0;
            if (fetch && (ar & Nx) != 0 && NxEnabled)
                throw Fail();
            if ((walk & PfecUser) != 0)
            {
                if ((ar & User) == 0 || (write && (ar & Rw) == 0))
                    throw Fail();
            }
            else
            {
                if ((ar & User) != 0)
                {
                    if (fetch && Smep)
                        throw Fail();
                    bool smap = (cpu.Cr4Value & Cr4.SMAP) != 0;
                    if (!fetch && smap && ((walk & PfecImplicit) != 0 || (cpu.Eflags & RFlags.AC) == 0))
                        throw Fail();
                }

                if (write && (ar & Rw) == 0 && (cpu.Cr0Value & Cr0.WP) != 0)
                    throw Fail();
            }

            // set_ad_bits from the leaf up: A everywhere, D on the leaf for a write; each only if
            // the entry still holds what the walk read (cmpxchg), else it is left alone.
            for (int i = count - 1; i >= 0; i--)
            {
                ulong updated = values[i] | Accessed | (i == count - 1 && write ? Dirty : 0);
                if (updated != values[i] && cpu.ReadPhysical(addresses[i], EntrySize) == values[i])
                    cpu.WritePhysical(addresses[i], EntrySize, updated);
            }

            ulong frame = entrySize == 4 ? entry & 0xFFFFF000 : entry & PaddrMask & ~0xFFFul;
            return (frame & ~pageMask) | (va & pageMask);
        }

        private readonly int EntrySize => entrySize == 0 ? 8 : entrySize;

        private readonly CpuFault Fail() => new(X86Vector.PF, result) { FaultAddress = va };

        private CpuFault Reserved()
        {
            result |= PfecReserved | PfecPresent;
            return Fail();
        }
    }

    [System.Runtime.CompilerServices.InlineArray(4)]
    private struct Span4
    {
        private ulong element;
    }
}
