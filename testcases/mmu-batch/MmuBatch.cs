using Iced.Intel;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen.Pv.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.MmuBatch;

/// <summary>
/// mmu-batch (ours, issue 6): 2,000 page mappings made three ways in a PV guest give the same
/// result. Range A by one mmu_update of 2,000 MMU_NORMAL_PT_UPDATE requests on the L1 entries;
/// range B by one multicall of 2,000 update_va_mapping entries; range C by 2,000
/// update_va_mapping hypercalls. The three ranges lie in virtual space the domain builder left
/// unmapped (beyond start-of-day's mapped area, L2 entries not present), and the guest supplies
/// their L1 tables as a PV kernel does: a free frame of its own, zeroed through its writable
/// mapping, remapped read-only (a frame with a writable mapping cannot become a page table:
/// Xen's get_page_type), pinned with MMUEXT_PIN_L1_TABLE, and hooked into the L2 with
/// mmu_update. Afterwards every L1 entry of the three ranges, read through the guest's own
/// page tables, names the same frame with the same flags, and the pages touched through range
/// A read back the same through B and C. A batch is one trap into the hypervisor: the guest
/// counts its hypercall instructions (1, 1, 2,000) and the hypervisor's count must agree. No
/// TLB flush is requested: the entries were not present before, and the processor caches no
/// translation from a not-present entry (SDM vol. 3, 4.10.2.3).
/// </summary>
[XtfTest("mmu-batch", Category.Functional, Environments.Pv, Title = "Batched PV page-table updates")]
public sealed class MmuBatch : TestCase
{
    private const int Pages = 2000;
    private const int Ranges = 3;
    private const int L1PerRange = (Pages + 511) / 512;
    private const ulong RangeSpan = 8ul << 20;
    private const ulong Page = 0x1000;
    private const ulong LeafFlags = Pte.Present | Pte.Rw | Pte.Accessed | Pte.Dirty;

    private static readonly string[] Method = ["mmu_update", "multicall", "update_va_mapping"];

    private ulong freeNext;
    private ulong freeEnd;

    public override void Main()
    {
        var sod = Runtime.StartOfDay!;
        freeNext = (sod.StackTop + Page - 1) & ~(Page - 1);
        freeEnd = sod.MappedEnd;
        ulong firstRange = (sod.MappedEnd + RangeSpan - 1) & ~(RangeSpan - 1);
        ulong[] bases = [.. Enumerable.Range(0, Ranges).Select(k => firstRange + ((ulong)k * RangeSpan))];

        // The frames mapped: free frames beyond start-of-day's mapped area.
        ulong firstPfn = sod.MappedEnd >> 12;
        if (firstPfn + Pages > StartInfoNrPages)
        {
            Skip($"Skip: {StartInfoNrPages} pages of RAM, too few for {Pages} free frames\n");
            return;
        }

        ulong[] targetMfn = [.. Enumerable.Range(0, Pages).Select(i => PfnToMfn(firstPfn + (ulong)i))];
        ulong[] l1Mfn = new ulong[Ranges * L1PerRange];
        for (int k = 0; k < Ranges; k++)
        {
            for (int j = 0; j < L1PerRange; j++)
            {
                ulong va = bases[k] + ((ulong)j << 21);
                if (!PrepareL1(va, out l1Mfn[(k * L1PerRange) + j]))
                    return;
            }
        }

        long[] guestCount = new long[Ranges], xenCount = new long[Ranges];
        if (!ByMmuUpdate(l1Mfn, targetMfn, out guestCount[0], out xenCount[0])
            || !ByMulticall(bases[1], targetMfn, out guestCount[1], out xenCount[1])
            || !ByHypercalls(bases[2], targetMfn, out guestCount[2], out xenCount[2]))
            return;

        for (int k = 0; k < Ranges; k++)
        {
            Printk($"{Method[k]}: {Pages} mappings at {FormatPointer(bases[k])}: {guestCount[k]} hypercall(s) issued, {xenCount[k]} counted by the hypervisor\n");
            if (guestCount[k] != xenCount[k])
                Failure($"Fail: {Method[k]}: the guest issued {guestCount[k]} hypercall(s), the hypervisor counted {xenCount[k]}\n");
        }

        if (CompareMappings(bases, targetMfn) && TouchPages(bases))
            Success();
    }

    /// <summary>
    /// A new L1 table for the 2 MiB at <paramref name="va"/>: the next free frame, zeroed with
    /// REP STOSD through its start-of-day writable mapping, remapped read-only, pinned, and
    /// hooked into the (not present) L2 entry with the flags of the L2 entry start of day made
    /// for virtual address 0.
    /// </summary>
    private bool PrepareL1(ulong va, out ulong mfn)
    {
        mfn = 0;
        if (freeNext + Page > freeEnd)
            return Fail("Error: out of free frames for L1 tables\n");
        ulong table = freeNext;
        freeNext += Page;
        mfn = PfnToMfn(table >> 12);

        var l2 = GuestPageTableEntry(va, 2);
        if (!GuestPageTableEntry(va, 3).Present || l2.Present)
            return Fail($"Error: {FormatPointer(va)} is not in an unmapped 2 MiB region under a present L3 entry\n");

        Exec(a =>
        {
            a.mov(edi, (uint)table);
            a.mov(ecx, 1024);
            a.xor(eax, eax);
            a.rep.stosd();
        });
        ulong pte = GuestPageTableEntry(table, 1).Entry;
        long rc = HypercallUpdateVaMapping(table, pte & ~Pte.Rw, UvmfInvlpg);
        if (rc != 0)
            return Fail($"Error: update_va_mapping({FormatPointer(table)}) read-only: {rc}\n");

        WriteKernelMemory(ScratchOp, MmuextOp(MmuextPinL1Table, mfn));
        if ((rc = HypercallMmuextOp(ScratchOp, 1)) != 0)
            return Fail($"Error: MMUEXT_PIN_L1_TABLE of mfn {mfn:x}: {rc}\n");

        ulong l2Flags = GuestPageTableEntry(0, 2).Entry & 0xFFF;
        WriteKernelMemory(ScratchOp, MmuUpdate(l2.MachineAddress | MmuNormalPtUpdate, (mfn << 12) | l2Flags));
        if ((rc = HypercallMmuUpdate(ScratchOp, 1)) != 0)
            return Fail($"Error: mmu_update of the L2 entry for {FormatPointer(va)}: {rc}\n");
        return true;
    }

    /// <summary>Range A: one mmu_update naming each L1 entry by machine address; pdone must say 2,000.</summary>
    private bool ByMmuUpdate(ulong[] l1Mfn, ulong[] targetMfn, out long guestCount, out long xenCount)
    {
        ulong requests = Allocate(Pages * MmuUpdateSize);
        var buffer = new byte[Pages * MmuUpdateSize];
        for (int i = 0; i < Pages; i++)
        {
            ulong ptr = (l1Mfn[i / 512] << 12) + ((ulong)(i % 512) * 8);
            MmuUpdate(ptr | MmuNormalPtUpdate, (targetMfn[i] << 12) | LeafFlags).CopyTo(buffer, i * MmuUpdateSize);
        }

        WriteKernelMemory(requests, buffer);
        WriteKernelMemory(ScratchOp, new byte[8]);
        long before = Runtime.PvDomain!.Hypercalls;
        long rc = HypercallMmuUpdate(requests, Pages, ScratchOp);
        xenCount = Runtime.PvDomain.Hypercalls - before;
        guestCount = 1;
        ulong done = ReadKernelMemory(ScratchOp, 4);
        if (rc != 0 || done != Pages)
            return Fail($"Fail: mmu_update of {Pages} entries: rc {rc}, done {done}\n");
        return true;
    }

    /// <summary>Range B: one multicall of update_va_mapping entries (UVMF_NONE); every entry's result must be 0.</summary>
    private bool ByMulticall(ulong va, ulong[] targetMfn, out long guestCount, out long xenCount)
    {
        int size = MulticallEntrySize;
        ulong list = Allocate(Pages * size);
        var buffer = new byte[Pages * size];
        for (int i = 0; i < Pages; i++)
            UpdateVaMappingEntry(va + ((ulong)i * Page), (targetMfn[i] << 12) | LeafFlags, UvmfNone).CopyTo(buffer, i * size);
        WriteKernelMemory(list, buffer);
        long before = Runtime.PvDomain!.Hypercalls;
        long rc = HypercallMulticall(list, Pages);
        xenCount = Runtime.PvDomain.Hypercalls - before;
        guestCount = 1;
        if (rc != 0)
            return Fail($"Fail: multicall of {Pages} update_va_mapping entries: {rc}\n");
        for (int i = 0; i < Pages; i++)
        {
            long result = MulticallResult(list + ((ulong)i * (ulong)size));
            if (result != 0)
                return Fail($"Fail: multicall entry {i}: update_va_mapping({FormatPointer(va + ((ulong)i * Page))}) returned {result}\n");
        }

        return true;
    }

    /// <summary>Range C: one update_va_mapping hypercall per page (UVMF_NONE).</summary>
    private bool ByHypercalls(ulong va, ulong[] targetMfn, out long guestCount, out long xenCount)
    {
        long before = Runtime.PvDomain!.Hypercalls;
        guestCount = 0;
        long firstError = 0;
        int firstBad = -1;
        for (int i = 0; i < Pages; i++)
        {
            long rc = HypercallUpdateVaMapping(va + ((ulong)i * Page), (targetMfn[i] << 12) | LeafFlags, UvmfNone);
            guestCount++;
            if (rc != 0 && firstBad < 0)
            {
                firstBad = i;
                firstError = rc;
            }
        }

        xenCount = Runtime.PvDomain.Hypercalls - before;
        if (firstBad >= 0)
            return Fail($"Fail: update_va_mapping({FormatPointer(va + ((ulong)firstBad * Page))}) returned {firstError}\n");
        return true;
    }

    /// <summary>
    /// Every L1 entry, read by walking the guest's page tables from its top-level table, maps
    /// the intended frame present and writable, and the three ranges' entries are equal.
    /// </summary>
    private bool CompareMappings(ulong[] bases, ulong[] targetMfn)
    {
        for (int i = 0; i < Pages; i++)
        {
            ulong offset = (ulong)i * Page;
            var a = GuestPageTableEntry(bases[0] + offset, 1);
            if (!a.Present || (a.Entry & Pte.Rw) == 0 || ((a.Entry & 0x000F_FFFF_FFFF_F000) >> 12) != targetMfn[i])
                return Fail($"Fail: mmu_update: L1 entry for {FormatPointer(bases[0] + offset)} is {a.Entry:x16}, expected mfn {targetMfn[i]:x} present and writable\n");
            for (int k = 1; k < Ranges; k++)
            {
                var e = GuestPageTableEntry(bases[k] + offset, 1);
                if (e.Entry != a.Entry || !e.Present)
                    return Fail($"Fail: {Method[k]}: L1 entry for {FormatPointer(bases[k] + offset)} is {e.Entry:x16}, mmu_update made {a.Entry:x16}\n");
            }
        }

        return true;
    }

    /// <summary>
    /// Guest stores of i ^ 0x5a5a0000 to the first dword of page i through range A, then guest
    /// loads through ranges B and C; EBX counts the pages that read back differently. Any
    /// exception on the way is recorded.
    /// </summary>
    private bool TouchPages(ulong[] bases)
    {
        // The ranges lie below 4 GiB, so 32-bit address registers serve both widths (in 64-bit
        // code with the address-size prefix, SDM vol. 1, 3.3.7).
        var r = ExecDetailed(a =>
        {
            var write = a.CreateLabel();
            var check = a.CreateLabel();
            var same = a.CreateLabel();
            a.mov(esi, (uint)bases[0]);
            a.xor(ecx, ecx);
            a.Label(ref write);
            a.mov(eax, ecx);
            a.xor(eax, 0x5a5a0000);
            a.mov(__dword_ptr[esi], eax);
            a.add(esi, (int)Page);
            a.inc(ecx);
            a.cmp(ecx, Pages);
            a.jb(write);
            a.mov(esi, (uint)bases[1]);
            a.mov(edi, (uint)bases[2]);
            a.xor(ebx, ebx);
            a.xor(ecx, ecx);
            a.Label(ref check);
            a.mov(eax, ecx);
            a.xor(eax, 0x5a5a0000);
            a.mov(edx, eax);
            a.xor(eax, __dword_ptr[esi]);
            a.xor(edx, __dword_ptr[edi]);
            a.or(eax, edx);
            a.je(same);
            a.inc(ebx);
            a.Label(ref same);
            a.add(esi, (int)Page);
            a.add(edi, (int)Page);
            a.inc(ecx);
            a.cmp(ecx, Pages);
            a.jb(check);
        });
        if (!r.Fault.IsNone)
            return Fail($"Fail: touching the mapped pages: {r.Fault} (ECX = page {r.Ecx})\n");
        if (r.Ebx != 0)
            return Fail($"Fail: {r.Ebx} of {Pages} pages written through range A read back differently through B or C\n");
        return true;
    }

    /// <summary>A small argument block (one mmuext_op or mmu_update, or pdone) in the runtime's scratch page.</summary>
    private const ulong ScratchOp = Xtf.Core.Guest.Image.HvmLayout.Scratch + 0xF00;

    /// <summary>Page-aligned kernel buffers from the free frames after the start-of-day boot stack.</summary>
    private ulong Allocate(int bytes)
    {
        ulong at = freeNext;
        freeNext += ((ulong)bytes + Page - 1) & ~(Page - 1);
        if (freeNext > freeEnd)
            throw new InvalidOperationException("mmu-batch: start-of-day's free frames do not hold the request buffers");
        return at;
    }

    private bool Fail(string message)
    {
        if (message.StartsWith("Error", StringComparison.Ordinal))
            Error(message);
        else
            Failure(message);
        return false;
    }
}
