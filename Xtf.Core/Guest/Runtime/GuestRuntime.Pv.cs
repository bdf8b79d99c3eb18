using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Guest.Image;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Builder;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Core.Guest.Runtime;

/// <summary>
/// XTF's PV-specific runtime (arch/x86/pv/traps.c, setup.c): the start-of-day hypercalls that
/// stand for LIDT, TSS.ESP0 and the user mappings, the PV console from start_info, and the trap
/// table entries that stand for IDT gates.
/// </summary>
public sealed partial class GuestRuntime
{
    /// <summary>UVMF_INVLPG, MMUEXT_NEW_USER_BASEPTR (public/xen.h).</summary>
    private const ulong UvmfInvlpg = 2, MmuextNewUserBaseptr = 15;

    private readonly Dictionary<int, ulong>? pvEntryStubs;

    /// <summary>The PV domain, in pv32pae and pv64.</summary>
    public PvDomain? PvDomain { get; }

    /// <summary>Where the domain builder put start_info, the page tables and the p2m list.</summary>
    public PvStartOfDay? StartOfDay { get; }

    /// <summary>
    /// Whether the code running now is user code. HVM and pv32pae: CPL 3. pv64 runs kernel and
    /// user code in ring 3; the guest kernel knows which it is running (Xen's TF_kernel_mode).
    /// </summary>
    public bool InUserMode => PvDomain is { Is64BitDomain: true } pv ? !pv.Vcpu.KernelMode : Cpu.Cpl == 3;

    /// <summary>XTF's __KERN_CS.</summary>
    public ushort KernelCs => IsPv ? PvLayout.KernelCs(config.Environment) : HvmLayout.KernelCsFor(config.Environment);

    /// <summary>XTF's __USER_CS (hvm64, pv64: the 64-bit one).</summary>
    public ushort UserCs => IsPv ? PvLayout.UserCs(config.Environment) : Bitness == 64 ? HvmLayout.UserCs64 : HvmLayout.UserCs;

    /// <summary>XTF's __USER_DS.</summary>
    public ushort UserDs => IsPv ? PvLayout.UserDs(config.Environment) : HvmLayout.UserDs;

    /// <summary>
    /// XTF's init_hypercalls and arch_init_traps for PV: the domain builder wrote the hypercall
    /// page (still poisoned with <c>ret</c> means it did not); then set_trap_table (XTF's
    /// pv_default_trap_info: the handled exceptions with events masked, #BP and #OF and
    /// X86_VEC_RET2KERN with DPL 3), stack_switch to the ring-0 stack, __USER_DS in the data
    /// segments, page 0 unmapped; pv64 registers its page tables as the user ones too (a shared
    /// address space), pv32pae sets _PAGE_USER on the pages user code runs on.
    /// </summary>
    private void InitPv()
    {
        if (ReadKernelByte(HvmLayout.HypercallPage) == 0xC3)
            Panic("Hypercall page not initialised correctly\n");
        HypercallsReady = true;

        var table = new List<byte>();
        foreach (var (vector, address) in pvEntryStubs!.OrderBy(kv => kv.Key))
        {
            int dpl = vector is 3 or 4 or HvmLayout.VectorReturnToKernel ? 3 : 0;
            table.AddRange(TrapInfoBytes(vector, dpl | 4, KernelCs, address));
        }

        table.AddRange(TrapInfoBytes(0, 0, 0, 0));
        WriteKernelBytes(HvmLayout.Scratch, table.ToArray());
        PanicIfFailed(Hypercall(HypercallNumber.SetTrapTable, HvmLayout.Scratch), "Failed to set trap table");
        SetGdtPv();
        PanicIfFailed(Hypercall(HypercallNumber.StackSwitch, PvLayout.KernelDs(config.Environment), HvmLayout.Ring0StackTop), "Failed to set kernel stack");
        ushort ds = UserDs;
        Exec(a =>
        {
            a.mov(eax, ds);
            a.mov(Iced.Intel.AssemblerRegisters.ds, ax);
            a.mov(es, ax);
            a.mov(fs, ax);
            a.mov(gs, ax);
        }, ExecFaults.Unhandled);

        if (Bitness == 64)
        {
            // struct mmuext_op { unsigned int cmd; union { xen_pfn_t mfn; } arg1; ... } (32 bytes).
            var op = new byte[32];
            BitConverter.TryWriteBytes(op.AsSpan(0), (uint)MmuextNewUserBaseptr);
            BitConverter.TryWriteBytes(op.AsSpan(8), PfnToMfn(StartOfDay!.PageTableBase >> 12));
            WriteKernelBytes(HvmLayout.Scratch, op);
            PanicIfFailed(Hypercall(HypercallNumber.MmuextOp, HvmLayout.Scratch, 1, 0, DomainId.Self), "Failed to set user %cr3");
        }
        else
        {
            foreach (ulong page in HvmPageTablesUserPages)
            {
                ulong pte = GuestPageTableEntry(page, 1).Entry;
                if ((pte & PageWalker.P) != 0 && (pte & PageWalker.US) == 0)
                    PanicIfFailed(UpdateVaMapping(page, pte | PageWalker.US, UvmfInvlpg), $"update_va_mapping({page:x8}) failed");
            }
        }

        PanicIfFailed(UpdateVaMapping(0, 0, UvmfInvlpg), "Failed to unmap page at NULL");
    }

    /// <summary>
    /// XTF's GDT for PV (arch_init_traps): the page holding gdt[] (15 entries, the runtime's and the
    /// tests' slots; none used yet, so all null) is remapped read-only, then registered with set_gdt.
    /// </summary>
    private void SetGdtPv()
    {
        var (pte, _, _) = GuestPageTableEntry(HvmLayout.Gdt, 1);
        PanicIfFailed(UpdateVaMapping(HvmLayout.Gdt, pte & ~PageWalker.RW, UvmfInvlpg), "Failed to remap the GDT read-only");
        WriteKernelBytes(HvmLayout.Scratch, BitConverter.GetBytes(PfnToMfn(HvmLayout.Gdt >> 12)));
        PanicIfFailed(Hypercall(HypercallNumber.SetGdt, HvmLayout.Scratch, HvmLayout.GdtEntries - 1), "Failed to set the GDT");
    }

    /// <summary>
    /// HYPERVISOR_update_descriptor(maddr, desc): the machine address of the slot (through the
    /// p2m) and the descriptor; 32-bit callers pass each as two 32-bit halves, low first.
    /// </summary>
    private void UpdateDescriptor(ulong va, ulong descriptor)
    {
        ulong maddr = (PfnToMfn(va >> 12) << 12) | (va & 0xFFF);
        long rc = Bitness == 64
            ? Hypercall(HypercallNumber.UpdateDescriptor, maddr, descriptor)
            : Hypercall(HypercallNumber.UpdateDescriptor, maddr & 0xFFFFFFFF, maddr >> 32, descriptor & 0xFFFFFFFF, descriptor >> 32);
        PanicIfFailed(rc, $"update_descriptor({va:x}) failed");
    }

    /// <summary>
    /// HYPERVISOR_update_va_mapping(va, pte, flags): a 32-bit caller passes the 64-bit PTE in two
    /// argument registers, low half first (XTF's hypercall-x86_32.h).
    /// </summary>
    public long UpdateVaMapping(ulong va, ulong pte, ulong flags) => Bitness == 64
        ? Hypercall(HypercallNumber.UpdateVaMapping, va, pte, flags)
        : Hypercall(HypercallNumber.UpdateVaMapping, va, pte & 0xFFFFFFFF, pte >> 32, flags);

    /// <summary>The pages user code needs: the user gate page, user text, user data and the user stack.</summary>
    private static IEnumerable<ulong> HvmPageTablesUserPages =>
        [HvmLayout.UserGates, .. Enumerable.Range(0, (int)((HvmLayout.UserStackTop - HvmLayout.UserText) >> 12)).Select(i => HvmLayout.UserText + ((ulong)i << 12))];

    /// <summary>struct trap_info: native { u8 vector, flags; u16 cs; pad; unsigned long address } (16 bytes), compat with a 32-bit address (8 bytes).</summary>
    private byte[] TrapInfoBytes(int vector, int flags, ushort cs, ulong address)
    {
        var e = new byte[Bitness == 64 ? 16 : 8];
        e[0] = (byte)vector;
        e[1] = (byte)flags;
        BitConverter.TryWriteBytes(e.AsSpan(2), cs);
        if (Bitness == 64)
            BitConverter.TryWriteBytes(e.AsSpan(8), address);
        else
            BitConverter.TryWriteBytes(e.AsSpan(4), (uint)address);
        return e;
    }

    /// <summary>
    /// XTF's xtf_set_idte for PV: a one-entry set_trap_table, {vector, DPL | mask events, cs,
    /// handler}, then the terminating entry. (The PV ABI cannot remove a handler this way.)
    /// </summary>
    private void SetTrapTableEntry(int vector, ulong handler, int dpl, ushort cs)
    {
        WriteKernelBytes(HvmLayout.Scratch, [.. TrapInfoBytes(vector, dpl | 4, cs, handler), .. TrapInfoBytes(0, 0, 0, 0)]);
        PanicIfFailed(Hypercall(HypercallNumber.SetTrapTable, HvmLayout.Scratch), "Failed to set trap table entry");
    }

    /// <summary>XTF's setup_pv_console for PV: the ring's mfn and event channel from start_info, the ring at mfn_to_virt.</summary>
    private void SetupPvConsoleFromStartInfo()
    {
        ulong si = ReadKernel(PvLayout.StartInfoSlot);
        ulong mfn = Bitness == 64 ? ReadKernel(si + 72) : ReadKernelUInt32(si + 52);
        uint port = ReadKernelUInt32(si + (ulong)(Bitness == 64 ? 80 : 56));
        if (mfn == 0)
            return;
        if (port >= (ulong)(Bitness * Bitness))
            Panic($"evtchn {port} out of evtchn range\n");
        pvConsoleRing = MfnToPfn(mfn) << 12;
        pvConsoleEvtchn = port;
    }

    /// <summary>mfn_to_pfn: machine_to_phys_mapping[mfn], the read-only M2P the hypervisor maps into every PV guest.</summary>
    public ulong MfnToPfn(ulong mfn) => Bitness == 64
        ? ReadKernel64(PvAbi.HypervisorVirtStart64 + (mfn * 8))
        : ReadKernelUInt32(PvAbi.HypervisorVirtStartCompat + (mfn * 4));

    /// <summary>pfn_to_mfn: start_info's mfn_list (the p2m).</summary>
    public ulong PfnToMfn(ulong pfn) => Bitness == 64
        ? ReadKernel64(StartOfDay!.MfnList + (pfn * 8))
        : ReadKernelUInt32(StartOfDay!.MfnList + (pfn * 4));

    /// <summary>
    /// The guest's page-table entry at <paramref name="level"/> (1 = L1 .. 4 = L4; pv32pae's top
    /// is the 4-entry L3) for <paramref name="va"/>, read through the guest's own read-only
    /// mappings of its tables (mfn_to_virt), and the machine address of that entry (what
    /// mmu_update's <c>ptr</c> names). A non-present entry above ends the walk: the result is
    /// that entry, with Present false.
    /// </summary>
    public (ulong Entry, ulong MachineAddress, bool Present) GuestPageTableEntry(ulong va, int level)
    {
        int top = Bitness == 64 ? 4 : 3;
        ulong tableMfn = PfnToMfn(StartOfDay!.PageTableBase >> 12);
        for (int l = top; ; l--)
        {
            int shift = 12 + (9 * (l - 1));
            ulong index = (va >> shift) & (l == 3 && top == 3 ? 3ul : 511ul);
            ulong entry = ReadKernel64((MfnToPfn(tableMfn) << 12) + (index * 8));
            ulong machine = (tableMfn << 12) + (index * 8);
            bool present = (entry & PageWalker.P) != 0;
            if (l == level || !present)
                return (entry, machine, present && l == level);
            tableMfn = (entry & 0x000F_FFFF_FFFF_F000) >> 12;
        }
    }

    private ulong ReadKernel64(ulong address) => Cpu.ReadLinear(address, 8, user: false);

    private uint ReadKernelUInt32(ulong address) => (uint)Cpu.ReadLinear(address, 4, user: false);

    private void PanicIfFailed(long rc, string what)
    {
        if (rc != 0)
            Panic($"{what}: {rc}\n");
    }

    /// <summary>XTF's arch_crash_hard for PV: a stack pointer Xen cannot build a bounce frame on, then PUSHF.</summary>
    internal void CrashHardPv() =>
        Exec(a =>
        {
            if (Bitness == 64)
                a.mov(rsp, 0x800000000badc0deul);
            else
                a.mov(esp, 0xfbadc0deu);
            a.pushf();
        }, ExecFaults.Unhandled);
}
