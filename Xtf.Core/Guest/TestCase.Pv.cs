using System.Buffers.Binary;
using Iced.Intel;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Pv;

namespace Xtf.Core.Guest;

/// <summary>
/// What a PV test needs beyond XTF's common API: the guest's own memory as its kernel sees it,
/// the argument structures of the batching hypercalls (public/xen.h: struct multicall_entry,
/// struct mmu_update, struct mmuext_op) in the caller's ABI, and pfn/mfn translation through
/// start_info's p2m list and the hypervisor's read-only M2P, as a PV kernel does it.
/// </summary>
public abstract partial class TestCase
{
    /// <summary>MMUEXT_PIN_L1_TABLE .. MMUEXT_UNPIN_TABLE, MMUEXT_TLB_FLUSH_LOCAL, MMUEXT_INVLPG_LOCAL (public/xen.h).</summary>
    protected const uint MmuextPinL1Table = 0, MmuextPinL2Table = 1, MmuextPinL3Table = 2, MmuextPinL4Table = 3, MmuextUnpinTable = 4, MmuextTlbFlushLocal = 6, MmuextInvlpgLocal = 7;

    /// <summary>MMU_NORMAL_PT_UPDATE: the low bits of mmu_update's <c>ptr</c> (public/xen.h).</summary>
    protected const ulong MmuNormalPtUpdate = 0;

    /// <summary>UVMF_NONE, UVMF_TLB_FLUSH, UVMF_INVLPG (public/xen.h).</summary>
    protected const ulong UvmfNone = 0, UvmfTlbFlush = 1, UvmfInvlpg = 2;

    /// <summary>DOMID_SELF (public/xen.h).</summary>
    protected const ushort DomidSelfId = 0x7FF0;

    /// <summary>The size of one struct multicall_entry in the caller's ABI: 64 bytes native, 32 compat.</summary>
    protected int MulticallEntrySize => Bitness == 64 ? 64 : 32;

    /// <summary>The size of one struct mmuext_op: 24 bytes native, 12 compat.</summary>
    protected int MmuextOpSize => Bitness == 64 ? 24 : 12;

    /// <summary>struct mmu_update { uint64_t ptr, val; }: 16 bytes in both ABIs.</summary>
    protected const int MmuUpdateSize = 16;

    /// <summary>Kernel-mode stores through DS (segmentation and paging checks apply; a fault is a framework bug).</summary>
    protected void WriteKernelMemory(ulong address, ReadOnlySpan<byte> bytes) => Runtime.WriteKernelBytes(address, bytes);

    /// <summary>A kernel-mode load of 1, 2, 4 or 8 bytes through DS.</summary>
    protected ulong ReadKernelMemory(ulong address, int size)
    {
        var cpu = Runtime.Cpu;
        return cpu.ReadLinear(cpu.LinearAddress(X86Cpu.DS, address, size, AccessKind.Read), size, user: false);
    }

    /// <summary>Permanent user code (XTF's <c>.text.user</c>), for example the target of a HYPERVISOR_iret.</summary>
    protected ulong AssembleUserCode(Action<Assembler> code) => Runtime.AssembleUserCode(code);

    /// <summary>
    /// struct multicall_entry { xen_ulong_t op, result; xen_ulong_t args[6]; }: native op at 0,
    /// result at 8, args at 16 + 8i; compat op at 0, result at 4, args at 8 + 4i. The result is 0.
    /// </summary>
    protected byte[] MulticallEntry(int op, params ulong[] args)
    {
        if (args.Length > 6)
            throw new ArgumentException("a multicall entry has six arguments", nameof(args));
        var e = new byte[MulticallEntrySize];
        int word = Bitness == 64 ? 8 : 4;
        Put(e, 0, (ulong)op, word);
        for (int i = 0; i < args.Length; i++)
            Put(e, (2 + i) * word, args[i], word);
        return e;
    }

    /// <summary>The <c>result</c> field of the multicall entry at <paramref name="entry"/> (compat: sign-extended from 32 bits).</summary>
    protected long MulticallResult(ulong entry) => Bitness == 64
        ? (long)ReadKernelMemory(entry + 8, 8)
        : (int)ReadKernelMemory(entry + 4, 4);

    /// <summary>struct mmu_update { ptr = machine address of the entry | command, val = the new entry }.</summary>
    protected static byte[] MmuUpdate(ulong ptr, ulong val)
    {
        var e = new byte[MmuUpdateSize];
        BinaryPrimitives.WriteUInt64LittleEndian(e, ptr);
        BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(8), val);
        return e;
    }

    /// <summary>struct mmuext_op { unsigned int cmd; arg1 (mfn or linear address); arg2 } in the caller's ABI.</summary>
    protected byte[] MmuextOp(uint cmd, ulong arg1 = 0, ulong arg2 = 0)
    {
        var e = new byte[MmuextOpSize];
        BinaryPrimitives.WriteUInt32LittleEndian(e, cmd);
        int word = Bitness == 64 ? 8 : 4;
        Put(e, word, arg1, word);
        Put(e, 2 * word, arg2, word);
        return e;
    }

    /// <summary>HYPERVISOR_mmu_update(reqs, count, pdone, DOMID_SELF).</summary>
    protected long HypercallMmuUpdate(ulong requests, uint count, ulong pdone = 0) =>
        Hypercall(HypercallNumber.MmuUpdate, requests, count, pdone, DomidSelfId);

    /// <summary>HYPERVISOR_mmuext_op(ops, count, pdone, DOMID_SELF).</summary>
    protected long HypercallMmuextOp(ulong ops, uint count, ulong pdone = 0) =>
        Hypercall(HypercallNumber.MmuextOp, ops, count, pdone, DomidSelfId);

    /// <summary>HYPERVISOR_multicall(call_list, nr_calls).</summary>
    protected long HypercallMulticall(ulong list, uint count) => Hypercall(HypercallNumber.Multicall, list, count);

    /// <summary>HYPERVISOR_update_va_mapping(va, pte, flags) (a 32-bit caller passes the PTE in two registers).</summary>
    protected long HypercallUpdateVaMapping(ulong va, ulong pte, ulong flags) => Runtime.UpdateVaMapping(va, pte, flags);

    /// <summary>update_va_mapping's arguments as a multicall entry's: native (va, pte, flags), compat (va, pte low, pte high, flags).</summary>
    protected byte[] UpdateVaMappingEntry(ulong va, ulong pte, ulong flags) => Bitness == 64
        ? MulticallEntry(HypercallNumber.UpdateVaMapping, va, pte, flags)
        : MulticallEntry(HypercallNumber.UpdateVaMapping, va, pte & 0xFFFF_FFFF, pte >> 32, flags);

    /// <summary>start_info's nr_pages.</summary>
    protected ulong StartInfoNrPages => ReadKernelMemory(Runtime.StartOfDay!.StartInfo + 32, Bitness == 64 ? 8 : 4);

    /// <summary>pfn_to_mfn: start_info's mfn_list (the p2m), read by the kernel.</summary>
    protected ulong PfnToMfn(ulong pfn) => Runtime.PfnToMfn(pfn);

    /// <summary>mfn_to_pfn: machine_to_phys_mapping[mfn], the read-only M2P in the hypervisor's area.</summary>
    protected ulong MfnToPfn(ulong mfn) => Runtime.MfnToPfn(mfn);

    /// <summary>The guest's page-table entry for <paramref name="va"/> at <paramref name="level"/> (see <see cref="Runtime.GuestRuntime.GuestPageTableEntry"/>).</summary>
    protected (ulong Entry, ulong MachineAddress, bool Present) GuestPageTableEntry(ulong va, int level) =>
        Runtime.GuestPageTableEntry(va, level);

    private static void Put(byte[] buffer, int offset, ulong value, int width)
    {
        if (width == 8)
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(offset), value);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset), (uint)value);
    }
}
