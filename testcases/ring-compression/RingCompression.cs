using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Pv;
using Xtf.Core.Xen.Pv.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.RingCompression;

/// <summary>
/// ring-compression (ours, issue 6): a 32-bit PV kernel on 64-bit Xen really runs in ring 1,
/// cannot reach the hypervisor's part of the address space or its frames, and sees its own page
/// tables read-only. Each check prints one line, <c>ok: ...</c> or <c>FAIL: ...</c>.
/// Ring 1: CS and SS are Xen's FLAT_RING1_CS 0xe019 and FLAT_RING1_DS 0xe021
/// (public/arch-x86/xen-x86_32.h) and CPL = CS.RPL = 1 (SDM vol. 3, 5.5); LAR of Xen's ring-0 code
/// selector 0xe008 fails at CPL 1 and LAR of 0xe019 shows a DPL 1 code segment (SDM vol. 2, LAR);
/// a far CALL to 0xe008 is #GP(0xe008) (SDM vol. 2, CALL: non-conforming code segment with
/// DPL != CPL), which Xen passes on because 0xe008 is no call gate (pv_emulate_gate_op); PUSHF
/// shows the real IOPL 0 and IF 1 Xen runs guests with; POPF at CPL 1 > IOPL changes neither
/// IOPL nor IF and does not fault (SDM vol. 2, POPF); CLI is #GP(0), and Xen's privileged-op
/// emulator does not carry it out because the virtual IOPL 0 is below the kernel's ring 1
/// (emul-priv-op.c, iopl_ok). Hypervisor area: the compat M2P at HYPERVISOR_COMPAT_VIRT_START
/// 0xF5800000 reads M2P[mfn] = pfn, but a write is #PF with error code P|W (read-only page,
/// CR0.WP = 1; SDM vol. 3, 4.7), a read of 0xFFFFF000 (Xen's L2 slots, beyond the M2P: its
/// 4-byte entries from 0xF5800000 would reach it only for 42M machine frames) is #PF with error
/// code 0; update_va_mapping of the hypervisor's frame that maps the M2P is -EBUSY (mm.c
/// get_page_from_l1e: the page's owner is not the caller, could_not_pin); mmu_update of Xen's
/// L2 slot 428 is -EPERM (mod_l2_entry: not is_guest_l2_slot) and of L3 slot 3 is -EINVAL
/// (mod_l3_entry: "Disallow updates to final L3 slot"). Own page tables: a kernel write to the
/// guest's L1 table and to its L3 through their start-of-day mappings is #PF with error code
/// P|W (Xen emulates such writes only for a guest that enabled
/// VMASST_TYPE_writable_pagetables, which XTF never does: pv_ro_page_fault), and
/// update_va_mapping to make the L1 table writable is -EBUSY (get_page_from_l1e: no
/// PGT_writable_page reference on an L1 page, could_not_pin).
/// </summary>
[XtfTest("ring-compression", Category.Functional, Environments.Pv32Pae, Title = "PV ring compression")]
public sealed class RingCompression : TestCase
{
    private const ushort FlatRing1Cs = 0xe019, FlatRing1Ds = 0xe021, XenCs = 0xe008;
    private const ulong CompatM2p = PvAbi.HypervisorVirtStartCompat;
    private const ulong ScratchOp = HvmLayout.Scratch + 0xF00;
    private const uint PfWriteProtect = 0x3;

    private bool failed;

    public override void Main()
    {
        RingOne();
        HypervisorArea();
        OwnPageTables();
        if (!failed)
            Success();
    }

    private void Check(bool ok, string what, string got)
    {
        Printk(ok ? $"ok: {what}\n" : $"FAIL: {what}: got {got}\n");
        if (!ok)
        {
            failed = true;
            Failure();
        }
    }

    private void CheckFault(string what, ExInfo got, ExInfo expected) =>
        Check(got == expected, $"{what} is {expected}", got.ToString());

    private void CheckRc(string what, long got, long expected) =>
        Check(got == expected, $"{what} returns {expected}", got.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private void RingOne()
    {
        var r = ExecDetailed(a =>
        {
            a.mov(eax, cs);
            a.mov(ebx, ss);
        });
        Check((r.Eax & 0xFFFF) == FlatRing1Cs && (r.Eax & 3) == 1, "CS is FLAT_RING1_CS 0xe019, RPL 1", $"{r.Eax & 0xFFFF:x4}");
        Check((r.Ebx & 0xFFFF) == FlatRing1Ds, "SS is FLAT_RING1_DS 0xe021", $"{r.Ebx & 0xFFFF:x4}");

        // LAR: ZF = 1 and the access rights (descriptor bits 32-63 & 0x00F0FF00) when the
        // descriptor is visible at CPL 1; Xen's 0x00cfbb000000ffff has G, D, P, DPL 1, code
        // execute/read (the accessed bit masked off).
        r = ExecDetailed(a =>
        {
            a.mov(ecx, XenCs);
            a.mov(eax, 0x12345678);
            a.lar(eax, ecx);
        });
        Check((r.Eflags & RFlags.ZF) == 0 && r.Eax == 0x12345678, "LAR of Xen's ring-0 CS 0xe008 at CPL 1 fails (ZF = 0, destination unchanged)", $"ZF {(r.Eflags >> 6) & 1}, {r.Eax:x8}");
        r = ExecDetailed(a =>
        {
            a.mov(ecx, FlatRing1Cs);
            a.lar(eax, ecx);
        });
        Check((r.Eflags & RFlags.ZF) != 0 && (r.Eax & 0x00F0FE00) == 0x00C0BA00, "LAR of 0xe019 shows a present DPL 1 code segment (ZF = 1, access rights 00c0bb00)", $"ZF {(r.Eflags >> 6) & 1}, {r.Eax:x8}");

        CheckFault("far CALL 0xe008:0 (Xen's ring-0 code) at CPL 1", Exec(a => a.call(XenCs, 0u)), ExInfo.Fault(X86Vector.GP, XenCs));

        r = ExecDetailed(a =>
        {
            a.pushfd();
            a.pop(eax);
            a.pushfd();
            a.or(__dword_ptr[esp], (int)RFlags.IOPL);
            a.and(__dword_ptr[esp], ~(int)RFlags.IF);
            a.popfd();
            a.pushfd();
            a.pop(ebx);
        });
        Check(r.Fault.IsNone && (r.Eax & RFlags.IOPL) == 0 && (r.Eax & RFlags.IF) != 0, "PUSHF shows IOPL 0 and IF 1", $"{r.Fault}, eflags {r.Eax:x8}");
        Check(r.Fault.IsNone && (r.Ebx & RFlags.IOPL) == 0 && (r.Ebx & RFlags.IF) != 0, "POPF at CPL 1 changes neither IOPL nor IF, without a fault", $"{r.Fault}, eflags {r.Ebx:x8}");

        CheckFault("CLI at CPL 1 with virtual IOPL 0", Exec(a => a.cli()), ExInfo.Fault(X86Vector.GP, 0));
    }

    private void HypervisorArea()
    {
        ulong textMfn = PfnToMfn(HvmLayout.Text >> 12);
        var r = ExecDetailed(a => a.mov(eax, __dword_ptr[(uint)(CompatM2p + (textMfn * 4))]));
        Check(r.Fault.IsNone && r.Eax == HvmLayout.Text >> 12, $"a read of the M2P entry of mfn {textMfn:x} gives its pfn {HvmLayout.Text >> 12:x}", $"{r.Fault}, {r.Eax:x}");

        CheckFault("a write to the read-only M2P at 0xf5800000",
            Exec(a =>
            {
                a.mov(eax, __dword_ptr[(uint)CompatM2p]);
                a.mov(__dword_ptr[(uint)CompatM2p], eax);
            }), ExInfo.Fault(X86Vector.PF, PfWriteProtect));
        CheckFault("a read of 0xfffff000 in Xen's L2 slots, beyond the M2P",
            Exec(a => a.mov(eax, __dword_ptr[0xFFFFF000u])), ExInfo.Fault(X86Vector.PF, 0));

        var xenSlot = GuestPageTableEntry(CompatM2p, 2);
        ulong xenFrame = Pte.Mfn(xenSlot.Entry);
        ulong scratchVa = (Runtime.StartOfDay!.StackTop + 0xFFF) & ~0xFFFul;
        CheckRc($"update_va_mapping of the hypervisor's M2P L1 frame {xenFrame:x}, read-only",
            HypercallUpdateVaMapping(scratchVa, (xenFrame << 12) | Pte.Present | Pte.Accessed, UvmfInvlpg), -XenErrno.EBUSY);

        WriteKernelMemory(ScratchOp, MmuUpdate(xenSlot.MachineAddress | MmuNormalPtUpdate, 0));
        CheckRc("mmu_update clearing Xen's L2 slot 428", HypercallMmuUpdate(ScratchOp, 1), -XenErrno.EPERM);
        var l3Slot3 = GuestPageTableEntry(0xC0000000, 3);
        WriteKernelMemory(ScratchOp, MmuUpdate(l3Slot3.MachineAddress | MmuNormalPtUpdate, 0));
        CheckRc("mmu_update clearing L3 slot 3", HypercallMmuUpdate(ScratchOp, 1), -XenErrno.EINVAL);
    }

    private void OwnPageTables()
    {
        ulong l1Mfn = Pte.Mfn(GuestPageTableEntry(HvmLayout.Text, 2).Entry);
        ulong l1Va = MfnToPfn(l1Mfn) << 12;
        ulong l3Va = Runtime.StartOfDay!.PageTableBase;
        CheckFault($"a write to the guest's own L1 table at {l1Va:x8}",
            Exec(a =>
            {
                a.mov(eax, __dword_ptr[(uint)l1Va + 0xFF8]);
                a.mov(__dword_ptr[(uint)l1Va + 0xFF8], eax);
            }), ExInfo.Fault(X86Vector.PF, PfWriteProtect));
        CheckFault($"a write to the guest's own L3 table at {l3Va:x8}",
            Exec(a =>
            {
                a.mov(eax, __dword_ptr[(uint)l3Va]);
                a.mov(__dword_ptr[(uint)l3Va], eax);
            }), ExInfo.Fault(X86Vector.PF, PfWriteProtect));
        ulong pte = GuestPageTableEntry(l1Va, 1).Entry;
        CheckRc($"update_va_mapping making the L1 table at {l1Va:x8} writable",
            HypercallUpdateVaMapping(l1Va, pte | Pte.Rw, UvmfInvlpg), -XenErrno.EBUSY);
        Check((GuestPageTableEntry(l1Va, 1).Entry & Pte.Rw) == 0, "the L1 table's mapping stays read-only", $"{GuestPageTableEntry(l1Va, 1).Entry:x16}");
    }
}
