using Iced.Intel;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Invlpg;

/// <summary>
/// invlpg (XTF tests/invlpg): INVLPG invalidates one TLB entry. It takes a memory operand but
/// does not behave like other instructions referencing memory: it is not documented to raise
/// #GP/#SS for a bad segment or a limit violation, and it is a NOP for a non-canonical address
/// (SDM vol. 2, INVLPG). Experimentally it adds the segment base, and invalidates mappings beyond
/// the segment limit.
///
/// 1) TLB refill (paged environments): writes to 0x1000 and 0x2000 fill the TLB (the walk sets A
///    and D), the A/D bits are cleared in the PTEs, one page is invalidated, and the writes are
///    repeated: only the invalidated mapping is walked again, which sets its A/D bits (SDM vol. 3,
///    4.8 and 4.10.4.1). With an FS base of 0x1000, <c>invlpg %fs:0x1000</c> invalidates 0x2000.
///    If both refill (XTF: a vCPU reschedule flushed the TLB) the test is repeated.
/// 2) No fault where an ordinary memory operand would fault: a mapped and an unmapped address, a
///    NULL FS, beyond the FS limit, below an expand-down limit and, in 64-bit mode, a non-canonical
///    address and one made non-canonical by the FS base.
/// Upstream's hap and shadow variations (tests/invlpg/Makefile) are kept: they are paging modes of a
/// real Xen (the cfg's hap = 1 / 0), which a guest cannot tell apart architecturally, so both run
/// the same machine here and must give the same result.
/// </summary>
[XtfTest("invlpg", Category.Functional, Environments.Hvm32 | Environments.Hvm32Pae | Environments.Hvm64, Title = "Invlpg tests", Variations = ["hap", "shadow"])]
public sealed class Invlpg : TestCase
{
    private const int Slot = HvmLayout.GdteAvail0;
    private const ushort Selector = Slot << 3;
    private const ulong AccessedDirty = 0x60;
    private const uint MsrFsBase = 0xC0000100;

    /// <summary>The L1 table mapping the first 2 MiB (XTF's pae_l1_identmap) in hvm32pae and hvm64.</summary>
    private ulong L1 => HvmLayout.PageTables + (Bitness == 64 ? 0x6000ul : 0x5000ul);

    public override void Main()
    {
        if (Environment != Environments.Hvm32)
            TestTlbRefill();
        TestNoFault();
        Success();
    }

    private void TestTlbRefill()
    {
        Printk("Testing 'invlpg (0x1000)' with segment bases\n");
        Printk("  Test: No segment\n");
        RunTlbRefillTest(useFs: false, expect: 1);

        (string Desc, int Mapping, SegmentDescriptor Seg)[] tests =
        [
            ("(base 0x0)", 1, SegmentDescriptor.CodeOrData(0x3, 0, 0xFFFFF, 0, big: true, granular: true)),
            ("(base 0x0, limit 0x1)", 1, SegmentDescriptor.CodeOrData(0x3, 0, 1, 0, big: true)),
            ("(base 0x1000)", 2, SegmentDescriptor.CodeOrData(0x3, 0x1000, 0xFFFFF, 0, big: true, granular: true)),
            ("(base 0x1000, limit 0x1001)", 2, SegmentDescriptor.CodeOrData(0x3, 0x1000, 0x1001, 0, big: true)),
        ];
        foreach (var t in tests)
        {
            Printk($"  Test: %fs {t.Desc}\n");
            SetGdtEntry(Slot, t.Seg);
            WriteFs(Selector);
            RunTlbRefillTest(useFs: true, expect: t.Mapping);
        }
    }

    private void RunTlbRefillTest(bool useFs, int expect)
    {
        int ret, tries = 20;
        do
        {
            ret = Refill(useFs);
        }
        while (ret == 3 && --tries > 0);

        switch (ret)
        {
            case 0:
                Failure("    Fail: No TLB refill at all\n");
                break;
            case 1 or 2:
                Printk($"    TLB refill of 0x{ret * 0x1000:x}\n");
                if (ret != expect)
                    Failure($"    Fail: Expected mapping 0x{expect * 0x1000:x} to have been refilled\n");
                break;
            case 3:
                Printk("    TLB refill of both 0x1000 and 0x2000\n");
                break;
            default:
                Failure($"    Fail: Unexpected return value {ret}\n");
                break;
        }
    }

    /// <summary>XTF's invlpg_refill / invlpg_fs_refill: bit 0 if 0x1000 was refilled, bit 1 if 0x2000 was.</summary>
    private int Refill(bool useFs)
    {
        ulong pte1 = L1 + 8, pte2 = L1 + 16;
        var r = ExecDetailed(a =>
        {
            a.xor(ecx, ecx);
            a.mov(__dword_ptr[0x1000], ecx);
            a.mov(__dword_ptr[0x2000], ecx);
            a.and(__byte_ptr[pte1], unchecked((byte)~AccessedDirty));
            a.and(__byte_ptr[pte2], unchecked((byte)~AccessedDirty));
            if (useFs)
                a.invlpg(__byte_ptr.fs[0x1000]);
            else
                a.invlpg(__byte_ptr[0x1000]);
            a.mov(__dword_ptr[0x1000], ecx);
            a.mov(__dword_ptr[0x2000], ecx);
            a.movzx(eax, __byte_ptr[pte1]);
            a.movzx(edx, __byte_ptr[pte2]);
        });
        if (r.Fault != ExInfo.None)
            Failure($"    Fail: Unexpected fault {r.Fault.Raw:x}, {r.Fault}\n");
        bool Ad(uint pte) => (pte & AccessedDirty) == AccessedDirty;
        return (Ad(r.Eax) ? 1 : 0) | (Ad(r.Edx) ? 2 : 0);
    }

    private void TestNoFault()
    {
        Printk("Testing 'invlpg' in normally-faulting conditions\n");

        Printk("  Test: Mapped address\n");
        Checked(HvmLayout.Text, useFs: false);

        Printk("  Test: Unmapped address\n");
        Checked(0, useFs: false);

        Printk("  Test: NULL segment override\n");
        WriteFs(0);
        Checked(0, useFs: true);

        Printk("  Test: Past segment limit\n");
        SetGdtEntry(Slot, SegmentDescriptor.CodeOrData(0x3, 0, 1, 0, big: true));
        WriteFs(Selector);
        Checked(0x2000, useFs: true);

        Printk("  Test: Before expand-down segment limit\n");
        SetGdtEntry(Slot, SegmentDescriptor.CodeOrData(0x7, 0, 1, 0, big: true));
        WriteFs(Selector);
        Checked(0, useFs: true);

        if (Bitness == 64)
        {
            Printk("  Test: Noncanonical address\n");
            Checked(0x800000000000, useFs: false);

            Printk("  Test: Noncanonical including segment base\n");
            WriteFs(0);
            if (!TryWrmsr(MsrFsBase, (1ul << 47) - 1))
                Failure("    Fail: wrmsr(MSR_FS_BASE) faulted\n");
            Checked((1ul << 47) - 1, useFs: true);
        }
    }

    /// <summary>XTF's invlpg_checked / invlpg_fs_checked: any fault is a failure (ex_fail).</summary>
    private void Checked(ulong linear, bool useFs)
    {
        var fault = Exec(a =>
        {
            if (Bitness == 64)
            {
                a.mov(rax, linear);
                a.invlpg(useFs ? __byte_ptr.fs[rax] : __byte_ptr[rax]);
            }
            else
            {
                a.mov(eax, (uint)linear);
                a.invlpg(useFs ? __byte_ptr.fs[eax] : __byte_ptr[eax]);
            }
        });
        if (fault != ExInfo.None)
            Failure($"    Fail: Unexpected fault {fault.Raw:x}, {fault}\n");
    }

    private void WriteFs(ushort selector) => Exec(a =>
    {
        a.mov(eax, (uint)selector);
        a.mov(fs, ax);
    });
}
