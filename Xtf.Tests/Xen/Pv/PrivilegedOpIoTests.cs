using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// PV I/O and CLI/STI emulation (xen/arch/x86/pv/emul-priv-op.c): the virtual IOPL decides
/// (iopl_ok: kernel vCPL 1, or 0 under architectural_iopl; user vCPL 3), then the I/O bitmap;
/// a domU's permitted accesses read all ones and drop writes, except the ports Xen virtualises
/// (RTC index 0x70, the CONFIG_ADDRESS dword at 0xCF8).
/// </summary>
public sealed class PrivilegedOpIoTests
{
    private static readonly Environments[] Pv = [Environments.Pv64, Environments.Pv32Pae];

    private sealed class IoGuest : TestCase
    {
        public override void Main()
        {
            Printk($"k0 in {Exec(a => a.@in(al, 0x80))}\n");
            Printk($"k0 out {Exec(a => a.@out(0x80, al))}\n");
            Printk($"k0 cli {Exec(a => a.cli())}\n");
            Printk($"k0 sti {Exec(a => a.sti())}\n");

            HypercallPhysdevSetIopl(1);
            var inb = ExecDetailed(a =>
            {
                a.mov(eax, 0x12345678);
                a.@in(al, 0x80);
            });
            Printk($"k1 inb {inb.Fault} {inb.Eax:x8}\n");
            var inw = ExecDetailed(a =>
            {
                a.mov(eax, 0x12345678);
                a.mov(edx, 0x80);
                a.@in(ax, dx);
            });
            Printk($"k1 inw {inw.Fault} {inw.Eax:x8}\n");
            var ind = ExecDetailed(a =>
            {
                a.mov(eax, 0x12345678);
                a.@in(eax, 0x80);
            });
            Printk($"k1 ind {ind.Fault} {ind.Rax:x}\n");
            Printk($"k1 outb {Exec(a => a.@out(0x80, al))}\n");
            byte maskBefore = Runtime.PvDomain!.UpcallMask;
            Printk($"k1 cli {Exec(a => a.cli())} mask {maskBefore}->{Runtime.PvDomain.UpcallMask}\n");
            Printk($"k1 sti {Exec(a => a.sti())} mask {Runtime.PvDomain.UpcallMask}\n");

            var rtc = ExecDetailed(a =>
            {
                a.mov(eax, 0x8A);
                a.@out(0x70, al);
                a.mov(eax, 0);
                a.@in(al, 0x70);
                a.mov(ebx, eax);
                a.@in(al, 0x71);
            });
            Printk($"k1 rtc {rtc.Fault} idx {rtc.Ebx:x2} data {rtc.Eax & 0xFF:x2}\n");
            var cf8 = ExecDetailed(a =>
            {
                a.mov(edx, 0xCF8);
                a.mov(eax, 0x80001234);
                a.@out(dx, eax);
                a.mov(eax, 0);
                a.@in(eax, dx);
                a.mov(ebx, eax);
                a.mov(edx, 0xCFC);
                a.@in(eax, dx);
            });
            Printk($"k1 cf8 {cf8.Fault} {cf8.Ebx:x8} cfc {cf8.Eax:x8}\n");

            // REP INSB into kernel scratch memory, then REP OUTSB of two bytes to the RTC index.
            var ins = ExecDetailed(a =>
            {
                a.mov(__dword_ptr[(uint)HvmLayout.Scratch], 0);
                a.mov(edi, (uint)HvmLayout.Scratch);
                a.mov(ecx, 3);
                a.mov(edx, 0x80);
                a.rep.insb();
                a.mov(eax, __dword_ptr[(uint)HvmLayout.Scratch]);
                a.mov(ebx, edi);
            });
            Printk($"k1 insb {ins.Fault} {ins.Eax:x8} ecx {ins.Ecx} edi+{ins.Ebx - (uint)HvmLayout.Scratch}\n");
            var outs = ExecDetailed(a =>
            {
                a.mov(__dword_ptr[(uint)HvmLayout.Scratch], 0x00000C55);
                a.mov(esi, (uint)HvmLayout.Scratch);
                a.mov(ecx, 2);
                a.mov(edx, 0x70);
                a.rep.outsb();
                a.@in(al, 0x70);
            });
            Printk($"k1 outsb {outs.Fault} idx {outs.Eax & 0xFF:x2} ecx {outs.Ecx}\n");
            Printk($"k1 insb-pf {Exec(a =>
            {
                a.mov(edi, 0);
                a.mov(ecx, 1);
                a.mov(edx, 0x80);
                a.rep.insb();
            })}\n");

            Printk($"u1 in {ExecUser(a => a.@in(al, 0x80))}\n");
            Printk($"u1 cli {ExecUser(a => a.cli())}\n");

            HypercallPhysdevSetIopl(3);
            var user = ExecUserDetailed(a =>
            {
                a.mov(eax, 0);
                a.@in(al, 0x80);
            });
            Printk($"u3 in {user.Fault} {user.Eax:x8}\n");
            Printk($"u3 sti {ExecUser(a => a.sti())}\n");

            HypercallPhysdevSetIopl(0);
            Printk($"vmassist {HypercallVmAssist(VmAssistCmdEnable, VmAssistTypeArchitecturalIopl)}\n");
            Printk($"a0 cli {Exec(a => a.cli())}\n");
            Printk($"a0 user cli {ExecUser(a => a.cli())}\n");
            Success();
        }
    }

    private sealed class IoBitmapGuest : TestCase
    {
        public override void Main()
        {
            // struct physdev_set_iobitmap: ports 0-255 covered, all denied but port 0x80 (byte 16, bit 0).
            int wide = Bitness == 64 ? 8 : 4;
            ulong bitmap = HvmLayout.Scratch + 64;
            var arg = new byte[16];
            BitConverter.TryWriteBytes(arg.AsSpan(0), bitmap);
            if (wide == 4)
                BitConverter.TryWriteBytes(arg.AsSpan(0), (uint)bitmap);
            BitConverter.TryWriteBytes(arg.AsSpan(wide), 256u);
            Runtime.WriteKernelBytes(HvmLayout.Scratch, arg);
            var map = Enumerable.Repeat((byte)0xFF, 32).ToArray();
            map[0x80 >> 3] = 0xFE;
            Runtime.WriteKernelBytes(bitmap, map);
            Printk($"set {HypercallPhysdevOp(7, HvmLayout.Scratch)}\n");
            Printk($"k out80 {Exec(a => a.@out(0x80, al))}\n");
            Printk($"k out81 {Exec(a => a.@out(0x81, al))}\n");
            Printk($"k outw80 {Exec(a => a.@out(0x80, ax))}\n");
            Printk($"u out80 {ExecUser(a => a.@out(0x80, al))}\n");
            Printk($"k cli {Exec(a => a.cli())}\n");
            Success();
        }
    }

    private static IReadOnlyList<string> Lines<T>(Environments env)
        where T : TestCase, new()
    {
        var o = GuestHarness.Run<T>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        return o.Lines;
    }

    /// <summary>iopl_ok at the virtual IOPL 0 a domain starts with: the kernel's vCPL 1 &gt; 0, so IN, OUT, CLI and STI are #GP(0) bounced to the guest.</summary>
    [TestCaseSource(nameof(Pv))]
    public void VirtualIoplZeroBouncesGp0FromTheKernel(Environments env) =>
        Assert.That(Lines<IoGuest>(env), Does.Contain("k0 in #GP[0000]").And.Contain("k0 out #GP[0000]")
            .And.Contain("k0 cli #GP[0000]").And.Contain("k0 sti #GP[0000]"));

    /// <summary>
    /// guest_io_read for a domU: all ones per byte, written to AL or AX with the rest of EAX kept
    /// (SDM vol. 2, IN), to EAX zero-extended into RAX in 64-bit mode (SDM vol. 1, 3.4.1.1).
    /// 0x12345678 with AL = FF is 0x123456FF; with AX = FFFF 0x1234FFFF; EAX = FFFFFFFF.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void PermittedReadsOfUnbackedPortsReturnAllOnes(Environments env) =>
        Assert.That(Lines<IoGuest>(env), Does.Contain("k1 inb nothing 123456ff").And.Contain("k1 inw nothing 1234ffff")
            .And.Contain("k1 ind nothing ffffffff").And.Contain("k1 outb nothing"));

    /// <summary>validate(): CLI/STI with iopl_ok are NOPs; Xen deliberately leaves evtchn_upcall_mask alone.</summary>
    [TestCaseSource(nameof(Pv))]
    public void CliStiAtSufficientVirtualIoplAreNopsLeavingTheUpcallMask(Environments env)
    {
        var lines = Lines<IoGuest>(env);
        Assert.That(lines, Has.Some.Match(@"^k1 cli nothing mask (\d)->\1$"));
        Assert.That(lines, Has.Some.Match(@"^k1 sti nothing mask \d$"));
    }

    /// <summary>guest_io_read/write: the RTC index 0x70 is latched (cmos_idx) and read back; 0x71 without RTC access reads FF.</summary>
    [TestCaseSource(nameof(Pv))]
    public void RtcIndexPortIsVirtualised(Environments env) =>
        Assert.That(Lines<IoGuest>(env), Does.Contain("k1 rtc nothing idx 8a data ff"));

    /// <summary>A dword at 0xCF8 is the domain's pci_cf8, read back; CONFIG_DATA of a domU reads all ones.</summary>
    [TestCaseSource(nameof(Pv))]
    public void PciConfigAddressDwordIsVirtualised(Environments env) =>
        Assert.That(Lines<IoGuest>(env), Does.Contain("k1 cf8 nothing 80001234 cfc ffffffff"));

    /// <summary>
    /// rep_ins / rep_outs: every element done, (E)CX 0, (E)DI advanced by the count (DF = 0);
    /// OUTSB of 55 then 0C to port 0x70 leaves index 0C. A store to unmapped page 0 is #PF with
    /// the write bit, injected with RIP at the instruction.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void StringIoIsEmulatedElementByElement(Environments env)
    {
        var lines = Lines<IoGuest>(env);
        Assert.That(lines, Does.Contain("k1 insb nothing 00ffffff ecx 0 edi+3"));
        Assert.That(lines, Does.Contain("k1 outsb nothing idx 0c ecx 0"));
        Assert.That(lines, Does.Contain("k1 insb-pf #PF[-d-sW-]"));
    }

    /// <summary>iopl_ok for user mode (vCPL 3): vIOPL 1 is not enough, vIOPL 3 is.</summary>
    [TestCaseSource(nameof(Pv))]
    public void UserModeNeedsVirtualIoplThree(Environments env)
    {
        var lines = Lines<IoGuest>(env);
        Assert.That(lines, Does.Contain("u1 in #GP[0000]").And.Contain("u1 cli #GP[0000]"));
        Assert.That(lines, Does.Contain("u3 in nothing 000000ff").And.Contain("u3 sti nothing"));
    }

    /// <summary>VMASST_TYPE_architectural_iopl: the kernel counts as CPL 0, so vIOPL 0 admits it; user mode still needs 3.</summary>
    [TestCaseSource(nameof(Pv))]
    public void ArchitecturalIoplMakesTheKernelCplZero(Environments env) =>
        Assert.That(Lines<IoGuest>(env), Does.Contain("vmassist 0").And.Contain("a0 cli nothing").And.Contain("a0 user cli #GP[0000]"));

    /// <summary>
    /// guest_io_okay at vIOPL 0: ports within nr_ports whose bitmap bits are all clear are
    /// allowed (0x80 byte, from kernel and user); a set bit (0x81) or a word that covers one
    /// (0x80-0x81) is #GP(0). CLI/STI
    /// do not consult the bitmap.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void IoBitmapGrantsPortsAtVirtualIoplZero(Environments env)
    {
        var lines = Lines<IoBitmapGuest>(env);
        Assert.That(lines, Does.Contain("set 0"));
        Assert.That(lines, Does.Contain("k out80 nothing").And.Contain("u out80 nothing"));
        Assert.That(lines, Does.Contain("k out81 #GP[0000]").And.Contain("k outw80 #GP[0000]").And.Contain("k cli #GP[0000]"));
    }
}
