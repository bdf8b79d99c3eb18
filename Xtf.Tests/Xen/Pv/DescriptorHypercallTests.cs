using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Memory;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// set_gdt, update_descriptor, set_segment_base, fpu_taskswitch and set/get_debugreg from a PV
/// guest kernel (xen/arch/x86/pv/descriptor-tables.c, misc-hypercalls.c). The guest GDT page is
/// XTF's gdt[] page (HvmLayout.Gdt, pfn 0x105 = mfn 0x105); results are printed and compared
/// with Xen's values: EPERM 1, EFAULT 14, ENODEV 19, EINVAL 22, ENOSYS 38.
/// </summary>
public sealed class DescriptorHypercallTests
{
    private static readonly Environments[] Pv = [Environments.Pv64, Environments.Pv32Pae];

    private sealed class Descriptors : TestCase
    {
        private const ulong Page = HvmLayout.Gdt & ~0xFFFul;

        public override void Main()
        {
            var pv = Runtime.PvDomain!;
            bool wide = Bitness == 64;
            ulong mfn = Page >> 12;
            ulong list = HvmLayout.Scratch;

            // The runtime registered gdt[] at boot (XTF's arch_init_traps): drop it and make its
            // page writable again, so the checks below start from a plain page.
            ulong ro = Page | PageWalker.P | PageWalker.US | PageWalker.A;
            if (Hypercall(HypercallNumber.SetGdt, list, 0) != 0 || Runtime.UpdateVaMapping(Page, ro | PageWalker.RW, 2) != 0)
                Panic("could not release the runtime's GDT page\n");

            Printk($"too-many {Hypercall(HypercallNumber.SetGdt, list, 7169)}\n");
            Printk($"bad-list {Hypercall(HypercallNumber.SetGdt, wide ? 0xFFFF800000000000 : 0xFFFFF000, 1)}\n");

            // The page: null, flat DPL 0 data (raised on validation), null.
            var page = new byte[4096];
            BitConverter.TryWriteBytes(page.AsSpan(8), 0x00CF93000000FFFFul);
            Runtime.WriteKernelBytes(Page, page);
            Runtime.WriteKernelBytes(list, BitConverter.GetBytes(mfn));
            Printk($"writable {Hypercall(HypercallNumber.SetGdt, list, 3)}\n");

            Printk($"remap-ro {Runtime.UpdateVaMapping(Page, ro, 2)}\n");
            Printk($"set {Hypercall(HypercallNumber.SetGdt, list, 3)}\n");
            Printk($"fixed {Read64(Page + 8):x16}\n");
            ushort sel = (ushort)(wide ? 0x0B : 0x09);
            Printk($"load {LoadEs(sel)}\n");

            // update_descriptor: 64-bit callers pass (maddr, desc), compat ones (lo, hi, lo, hi).
            Printk($"misaligned {UpdateDescriptor(Page + 0x14, 0x00CFF3000000FFFF)}\n");
            Printk($"tss {UpdateDescriptor(Page + 0x10, 0x0000890000000067)}\n");
            Printk($"pagetable {UpdateDescriptor(Runtime.StartOfDay!.PageTableBase + 0x10, 0x00CFF3000000FFFF)}\n");
            Printk($"xenframe {UpdateDescriptor(pv.SharedInfoMfn + 0x1000_0000ul << 12, 0)}\n");
            Printk($"in-use {UpdateDescriptor(Page + 0x10, 0x00CF93000000FFFF)}\n");
            Printk($"updated {Read64(Page + 0x10):x16}\n");
            Printk($"load2 {LoadEs((ushort)(sel + 8))}\n");
            Printk($"beyond {LoadEs(0x30 | 3)}\n");
            LoadEs(Runtime.UserDs);

            // Dropping the GDT drops the seg_desc type: the page may be writable again.
            Printk($"clear {Hypercall(HypercallNumber.SetGdt, list, 0)}\n");
            Printk($"remap-rw {Runtime.UpdateVaMapping(Page, ro | PageWalker.RW, 2)}\n");

            Printk($"fs {Hypercall(HypercallNumber.SetSegmentBase, 0, 0x12345000)} {pv.Cpu.Segments[X86Cpu.FS].Base:x}\n");
            Printk($"fs-noncanonical {Hypercall(HypercallNumber.SetSegmentBase, 0, 0x0000800000000000)}\n");
            Printk($"gs-user {Hypercall(HypercallNumber.SetSegmentBase, 1, 0x5000)}\n");
            Printk($"which {Hypercall(HypercallNumber.SetSegmentBase, 4, 0)}\n");
            Hypercall(HypercallNumber.SetSegmentBase, 0, 0);
            var gs = pv.Cpu.Segments[X86Cpu.GS];
            Hypercall(HypercallNumber.SetSegmentBase, 2, 0x7000);
            Printk($"gs-sel {Hypercall(HypercallNumber.SetSegmentBase, 3, Runtime.UserDs)} {gs.Selector:x} {gs.Base:x} {pv.Cpu.ReadMsr(X86Cpu.MsrKernelGsBase):x}\n");
            Printk($"gs-sel-bad {Hypercall(HypercallNumber.SetSegmentBase, 3, 0x1234)} {gs.Selector:x} {gs.Base:x}\n");
            Hypercall(HypercallNumber.SetSegmentBase, 3, Runtime.UserDs);
            Hypercall(HypercallNumber.SetSegmentBase, 2, 0);

            Printk($"ts {Hypercall(HypercallNumber.FpuTaskswitch, 1)}\n");
            Printk($"fpu1 {Exec(a => a.fninit())}\n");
            Printk($"fpu2 {Exec(a => a.fninit())}\n");
            Hypercall(HypercallNumber.FpuTaskswitch, 1);
            Hypercall(HypercallNumber.FpuTaskswitch, 0);
            Printk($"fpu3 {Exec(a => a.fninit())}\n");

            Printk($"dr-gd {Hypercall(HypercallNumber.SetDebugreg, 7, 0x2000)}\n");
            Printk($"dr-io {Hypercall(HypercallNumber.SetDebugreg, 7, 0x20001)}\n");
            Printk($"dr8 {Hypercall(HypercallNumber.SetDebugreg, 8, 0)} {Hypercall(HypercallNumber.GetDebugreg, 8)}\n");
            Printk($"dr0 {Hypercall(HypercallNumber.SetDebugreg, 0, 0x1000)} {(uint)Hypercall(HypercallNumber.GetDebugreg, 0):x}\n");
            Printk($"dr7 {Hypercall(HypercallNumber.SetDebugreg, 7, 0x1)} {(uint)Hypercall(HypercallNumber.GetDebugreg, 7):x} {(uint)Hypercall(HypercallNumber.GetDebugreg, 5):x}\n");
            Printk($"dr6 {Hypercall(HypercallNumber.SetDebugreg, 6, 0x1001)} {(uint)Hypercall(HypercallNumber.GetDebugreg, 6):x}\n");
            if (wide)
            {
                Printk($"dr6-high {Hypercall(HypercallNumber.SetDebugreg, 6, 1ul << 32)}\n");
                Printk($"dr0-xen {Hypercall(HypercallNumber.SetDebugreg, 0, 0xFFFF800000000000)}\n");
            }

            Hypercall(HypercallNumber.SetDebugreg, 7, 0);
            Success();
        }

        private long UpdateDescriptor(ulong address, ulong descriptor) => Bitness == 64
            ? Hypercall(HypercallNumber.UpdateDescriptor, address, descriptor)
            : Hypercall(HypercallNumber.UpdateDescriptor, address & 0xFFFFFFFF, address >> 32, descriptor & 0xFFFFFFFF, descriptor >> 32);

        private ulong Read64(ulong address)
        {
            var b = new byte[8];
            Runtime.PvDomain!.Guest.TryRead(address, b, user: false);
            return BitConverter.ToUInt64(b);
        }

        private ExInfo LoadEs(ushort selector) => Exec(a =>
        {
            a.mov(eax, selector);
            a.mov(es, ax);
        });
    }

    private static IReadOnlyList<string> Lines(Environments env)
    {
        var o = GuestHarness.Run<Descriptors>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        return o.Lines;
    }

    /// <summary>set_gdt: more than FIRST_RESERVED_GDT_ENTRY (7168) entries is -EINVAL; an unreadable frame list -EFAULT; a frame with a writable mapping cannot take the seg_desc type: -EINVAL.</summary>
    [TestCaseSource(nameof(Pv))]
    public void SetGdtRejectsBadArguments(Environments env) =>
        Assert.That(Lines(env), Does.Contain("too-many -22").And.Contain("bad-list -14").And.Contain("writable -22"));

    /// <summary>
    /// set_gdt on a read-only frame: accepted; check_descriptor raised the data segment's DPL to
    /// the kernel's RPL in the frame itself (pv64 0x00cff3..., compat 0x00cfb3...), and the
    /// selector loads through Xen's GDT mapping.
    /// </summary>
    [Test]
    public void SetGdtInstallsCheckedFrames()
    {
        var l64 = Lines(Environments.Pv64);
        Assert.That(l64, Does.Contain("remap-ro 0").And.Contain("set 0").And.Contain("fixed 00cff3000000ffff").And.Contain("load nothing"));
        var l32 = Lines(Environments.Pv32Pae);
        Assert.That(l32, Does.Contain("set 0").And.Contain("fixed 00cfb3000000ffff").And.Contain("load nothing"));
    }

    /// <summary>
    /// update_descriptor: misaligned address, a TSS descriptor, a page-table frame and a frame
    /// that is not the guest's are -EINVAL; a descriptor of the in-use GDT is updated (checked
    /// and fixed up) and loads. GDTR keeps Xen's full limit, so a selector past the guest's
    /// entries reads its frame's null descriptor: #GP(selector).
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void UpdateDescriptorChecksAddressDescriptorAndFrame(Environments env)
    {
        var l = Lines(env);
        Assert.That(l, Does.Contain("misaligned -22").And.Contain("tss -22").And.Contain("pagetable -22").And.Contain("xenframe -22"));
        Assert.That(l, Does.Contain("in-use 0").And.Contain("load2 nothing"));
        Assert.That(l, Does.Contain(env == Environments.Pv64 ? "updated 00cff3000000ffff" : "updated 00cfb3000000ffff"));
        Assert.That(l, Does.Contain("beyond #GP[GDT[6]]"), string.Join("\n", l));
    }

    /// <summary>pv_destroy_gdt drops the frames' seg_desc type: after set_gdt with 0 entries the page can be mapped writable again.</summary>
    [TestCaseSource(nameof(Pv))]
    public void ClearingTheGdtReleasesItsFrames(Environments env) =>
        Assert.That(Lines(env), Does.Contain("clear 0").And.Contain("remap-rw 0"));

    /// <summary>set_segment_base (pv64): FS base set; non-canonical -EINVAL; unknown which -EINVAL. Compat: -ENOSYS for everything.</summary>
    [Test]
    public void SetSegmentBase()
    {
        Assert.That(Lines(Environments.Pv64), Does.Contain("fs 0 12345000").And.Contain("fs-noncanonical -22").And.Contain("gs-user 0").And.Contain("which -22"));
        Assert.That(Lines(Environments.Pv32Pae), Does.Contain("fs-noncanonical -38").And.Contain("gs-user -38").And.Contain("which -38"));
    }

    /// <summary>
    /// SEGBASE_GS_USER_SEL (pv64): __USER_DS (0xe02b) is loaded into %gs, its base (0) becomes the
    /// user GS base (MSR_KERNEL_GS_BASE while the kernel runs) and the kernel's GS base (0x7000)
    /// stays live; a selector that faults (0x1237: past any GDT entry) loads null, still 0.
    /// </summary>
    [Test]
    public void SetSegmentBaseLoadsTheUserGsSelector() =>
        Assert.That(Lines(Environments.Pv64), Does.Contain("gs-sel 0 e02b 7000 0").And.Contain("gs-sel-bad 0 0 7000"));

    /// <summary>
    /// fpu_taskswitch(1) sets the virtual and real CR0.TS: the next FPU instruction raises #NM,
    /// which Xen bounces and clears the virtual TS, so the one after runs; fpu_taskswitch(0)
    /// clears it before any #NM.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void FpuTaskswitchRaisesOneNm(Environments env) =>
        Assert.That(Lines(env), Does.Contain("ts 0").And.Contain("fpu1 #NM").And.Contain("fpu2 nothing").And.Contain("fpu3 nothing"));

    /// <summary>
    /// set_debugreg: DR7.GD -EPERM; an I/O breakpoint without CR4.DE -EPERM; register 8 -ENODEV
    /// (both ways); DR0 round-trips; DR7 reads back with bit 10 set (0x401), DR5 aliases it
    /// (CR4.DE clear); DR6 bit 12 is forced 0 and bits 4-11, 16-31 to 1 (0x1001 -> 0xffff0ff1).
    /// pv64: DR6 upper half -EINVAL; DR0 in Xen's area -EPERM.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void DebugRegisters(Environments env)
    {
        var l = Lines(env);
        Assert.That(l, Does.Contain("dr-gd -1").And.Contain("dr-io -1").And.Contain("dr8 -19 -19"));
        Assert.That(l, Does.Contain("dr0 0 1000").And.Contain("dr7 0 401 401").And.Contain("dr6 0 ffff0ff1"));
        if (env == Environments.Pv64)
            Assert.That(l, Does.Contain("dr6-high -22").And.Contain("dr0-xen -1"));
    }
}
