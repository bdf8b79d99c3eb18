using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.TestCases.Xsa195;

/// <summary>
/// XSA-195 (XTF tests/xsa-195): the <c>bt</c> family can reference an arbitrary bit offset from
/// their memory operand. The instruction emulator accounts for this by adjusting both the bit
/// index and the memory operand to make an equivalent instruction with the bit index in the
/// range 0 to op_bytes * 8. Before XSA-195 it mis-adjusted both for negative bit indices held in
/// 64-bit registers: the byte displacement was cut to 32 bits.
///
/// <c>bt %rdx, (%rax)</c> with RAX = 2^47 - 8 and RDX = 0xfffd000000000000 names the quadword
/// 0x600000000000 bytes below RAX (SDM vol. 2, BT: -3 * 2^48 DIV 64 quadwords, bit 0), at
/// 0x1ffffffffff8, which the test maps to a frame whose bit 0 is set. It runs natively, then
/// through the emulator.
///
/// Differences from XTF's test (tests/xsa-195/main.c at 453490d), which are ours to state:
/// - The route into the emulator. XTF removes gfn 0 from the p2m (XENMEM_decrease_reservation) so
///   that the <c>bt</c> on the frame takes an EPT/NPT fault and Xen emulates it as an MMIO access.
///   Our Xen makes the hole (MemoryOp.Reservation: the gfn leaves the machine's memory), but a
///   guest access to a hole is no exit to the hypervisor: the CPU reads it as all ones and drops
///   writes (PhysicalMemory), and ICpuIntercepts has no EPT-violation or MMIO intercept through
///   which the HVM emulator could take it. Upstream's own image shows it: on this platform it
///   reports SUCCESS with and without <c>--quirk xsa-195</c>. So the emulator is reached with the
///   forced emulation prefix, and the native run before it checks the same instruction on the CPU.
/// - What a vulnerable hypervisor does. XTF maps the whole address space readable so that a
///   vulnerable Xen's read succeeds and the hypervisor then crashes on its own stray access; here
///   nothing but the right quadword is mapped, so the vulnerable emulator's read at the truncated
///   address (RAX - 2^32) takes a #PF the test sees and reports as FAILURE.
/// - Where the target lives: XTF maps <c>linear</c> to gfn 0 (user, read-only); here to a frame
///   of free RAM above the image whose bit 0 is set, so a correct emulation is also checked for
///   the value it read (CF = 1), which XTF does not check.
/// </summary>
[XtfTest("xsa-195", Category.Xsa, Environments.Hvm64, Title = "XSA-195 PoC", Guards = ["xsa-195"])]
public sealed class Xsa195 : TestCase
{
    private const ulong Mem = (1ul << 47) - 8;
    private const ulong Index = 0xfffd000000000000;

    /// <summary>-3 * 2^48 DIV 64 = -3 * 2^42 quadwords = -0x600000000000 bytes (XTF's mem_adjust).</summary>
    private const ulong Linear = Mem - 0x600000000000;

    /// <summary>Page tables for <see cref="Linear"/> (L3, L2, L1) and the frame it maps, in free RAM above the image.</summary>
    private const uint L3 = 0x300000, L2 = 0x301000, L1 = 0x302000, Frame = 0x303000;
    private const ulong Present = 1, Writable = 2, Accessed = 0x20;

    public override void Main()
    {
        MapLinear();

        var native = Probe(fep: false);
        if (native.Fault != ExInfo.None || native.Ebx != 1)
        {
            Failure($"Fail: native bt: {native.Fault}, CF {native.Ebx}, expected no fault and CF 1\n");
            return;
        }

        if (!XtfHasFep)
        {
            Skip("FEP support not detected - some tests will be skipped\n");
            return;
        }

        var emulated = Probe(fep: true);
        if (emulated.Fault != ExInfo.None)
        {
            Failure($"Fail: emulated bt took {emulated.Fault}: the access missed {Linear:x}\n");
            return;
        }

        if (emulated.Ebx != 1)
        {
            Failure($"Fail: emulated bt read CF {emulated.Ebx} from the wrong place, expected 1 from {Linear:x}\n");
            return;
        }

        Success("Success: Not vulnerable to XSA-195\n");
    }

    /// <summary>bt %rdx, (%rax); EBX = CF.</summary>
    private ExecResult Probe(bool fep) => ExecDetailed(a =>
    {
        a.mov(rax, Mem);
        a.mov(rdx, Index);
        a.xor(ebx, ebx);
        if (fep)
            a.Fep();
        a.bt(__qword_ptr[rax], rdx);
        a.setc(bl);
    });

    /// <summary>
    /// Maps <see cref="Linear"/> read-only to <see cref="Frame"/>, whose quadword at the same page
    /// offset has bit 0 set, through new L3/L2/L1 tables under the PML4 (guest stores, then a CR3 reload).
    /// </summary>
    private void MapLinear()
    {
        int l4 = (int)((Linear >> 39) & 511), l3 = (int)((Linear >> 30) & 511), l2 = (int)((Linear >> 21) & 511), l1 = (int)((Linear >> 12) & 511);
        Exec(a =>
        {
            void Store(ulong address, ulong value)
            {
                a.mov(rax, value);
                a.mov(__qword_ptr[address], rax);
            }

            Store(Frame + (Linear & 0xFFF), 1);
            Store(L1 + (ulong)(l1 * 8), Frame | Present | Accessed);
            Store(L2 + (ulong)(l2 * 8), L1 | Present | Writable | Accessed);
            Store(L3 + (ulong)(l3 * 8), L2 | Present | Writable | Accessed);
            Store(HvmLayout.PageTables + (ulong)(l4 * 8), L3 | Present | Writable | Accessed);
            a.mov(rax, cr3);
            a.mov(cr3, rax);
        });
    }
}
