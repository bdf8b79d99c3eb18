using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Events;
using Xtf.Tests.Guests;

namespace Xtf.Tests.Xen.Pv;

/// <summary>
/// Event channels of a PV guest through shared_info's 2-level bitmaps, and the event upcall
/// (xen/common/event_channel.c, event_2l.c; entry.S test_guest_events). The guest registers an
/// event callback with CALLBACKOP_register (XTF's #DE entry stub stands in for entry_EVTCHN:
/// the callback arrives at the unhandled-exception hook as vector 0), allocates an unbound port
/// for itself and binds it interdomain to itself (a loopback), and sends. The hook plays the
/// guest's event handler: it records what it sees and clears evtchn_upcall_pending,
/// evtchn_pending_sel and the pending bits, as a guest's do_evtchn does.
/// Results: EINVAL 22, ESRCH 3, ENOENT 2, EEXIST 17, EFAULT 14.
/// </summary>
public sealed class EventChannelUpcallTests
{
    private static readonly Environments[] Pv = [Environments.Pv64, Environments.Pv32Pae];

    private sealed class Upcalls : TestCase
    {
        private const ulong Arg = HvmLayout.Scratch;
        private int upcalls;
        private string seen = "";
        private uint portA, portB;

        public override void Main()
        {
            var pv = Runtime.PvDomain!;
            bool wide = Bitness == 64;
            var stub = pv.Vcpu.TrapTable[0];
            UnhandledExceptionHook = regs =>
            {
                if (regs.Vector != 0)
                    return false;
                upcalls++;
                var si = pv.Domain.EventChannels.SharedInfo!;
                seen = $"mask={pv.UpcallMask} a={(si.IsPending(portA) ? 1 : 0)} b={(si.IsPending(portB) ? 1 : 0)}";
                ClearEvents();
                return true;
            };

            // struct callback_register: native { u16 type, flags; u64 address @8 }, compat { u16 type, flags; u32 cs @4, eip @8 }.
            var cb = new byte[wide ? 16 : 12];
            if (wide)
                BitConverter.TryWriteBytes(cb.AsSpan(8), stub.Address);
            else
            {
                BitConverter.TryWriteBytes(cb.AsSpan(4), (uint)stub.Cs);
                BitConverter.TryWriteBytes(cb.AsSpan(8), (uint)stub.Address);
            }

            Runtime.WriteKernelBytes(Arg, cb);
            Printk($"register {Hypercall(HypercallNumber.CallbackOp, 0, Arg)}\n");

            // alloc_unbound { dom = SELF, remote_dom = SELF, port }.
            Runtime.WriteKernelBytes(Arg, [0xF0, 0x7F, 0xF0, 0x7F, 0, 0, 0, 0]);
            Printk($"alloc {EventOp(EventChannelCommand.AllocUnbound)}\n");
            portA = ReadU32(Arg + 4);

            // bind_interdomain { remote_dom = SELF, remote_port = A, local_port }: the new port is raised at once.
            // get_free_port hands out the lowest free port: B = A + 1 (checked below).
            portB = portA + 1;
            WriteInterdomain(DomainId.Self, portA);
            Printk($"bind {EventOp(EventChannelCommand.BindInterdomain)} upcalls={upcalls} {seen}\n");
            Printk($"port-b {(ReadU32(Arg + 8) == portB ? "a+1" : "other")}\n");
            Printk($"after mask={pv.UpcallMask}\n");

            Printk($"send-a {Send(portA)} upcalls={upcalls} {seen}\n");
            Printk($"send-b {Send(portB)} upcalls={upcalls} {seen}\n");

            // Port A masked in shared_info: a send to it sets its pending bit only; unmask re-raises.
            SetMaskBit(portA);
            seen = "";
            Printk($"masked {Send(portB)} upcalls={upcalls} pending-a={(pv.Domain.EventChannels.IsPending(portA) ? 1 : 0)} upcall-pending={pv.UpcallPending}\n");
            Runtime.WriteKernelBytes(Arg, BitConverter.GetBytes(portA));
            Printk($"unmask {EventOp(EventChannelCommand.Unmask)} upcalls={upcalls} {seen}\n");

            // Upcalls masked in vcpu_info: nothing is delivered; SCHEDOP_poll finds the port pending.
            pv.UpcallMask = 1;
            Printk($"vmasked {Send(portB)} upcalls={upcalls}\n");
            Printk($"poll {Poll(portA, 1)} poll-bad-port {Poll(5000, 1)} poll-many {Poll(portA, 129)}\n");
            ulong badPorts = wide ? 0xFFFF800000000000 : 0xFFFFF000;
            Printk($"poll-fault {Poll(portA, 1, badPorts)}\n");

            // SCHEDOP_block re-enables events: the pending upcall is delivered as it returns.
            Printk($"block {Hypercall(HypercallNumber.SchedOp, SchedOpCommand.Block)} upcalls={upcalls} {seen}\n");

            // Error paths.
            WriteInterdomain(5, portA);
            Printk($"bind-nodomain {EventOp(EventChannelCommand.BindInterdomain)}\n");
            WriteInterdomain(DomainId.Self, pv.Domain.StorePort);
            Printk($"bind-notours {EventOp(EventChannelCommand.BindInterdomain)}\n");
            WriteInterdomain(DomainId.Self, portA);
            Printk($"bind-bound {EventOp(EventChannelCommand.BindInterdomain)}\n");
            Printk($"virq-range {BindVirq(24, 0)} virq-global-vcpu {BindVirq(Virq.Console, 1)} virq-vcpu {BindVirq(Virq.Timer, 1)}\n");
            Printk($"virq {BindVirq(Virq.Timer, 0)} virq-again {BindVirq(Virq.Timer, 0)}\n");
            uint virqPort = ReadU32(Arg + 8);
            Printk($"send-virq {Send(virqPort)}\n");
            Runtime.WriteKernelBytes(Arg, [1, 0, 0, 0, 0, 0, 0, 0]);
            Printk($"ipi-vcpu {EventOp(EventChannelCommand.BindIpi)}\n");
            Runtime.WriteKernelBytes(Arg, new byte[8]);
            Printk($"ipi {EventOp(EventChannelCommand.BindIpi)}\n");
            uint ipi = ReadU32(Arg + 4);
            seen = "";
            Printk($"send-ipi {Send(ipi)} upcalls={upcalls}\n");
            Runtime.WriteKernelBytes(Arg, BitConverter.GetBytes(5000u));
            Printk($"unmask-bad {EventOp(EventChannelCommand.Unmask)}\n");
            Printk($"bad-arg {Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.BindIpi, badPorts)}\n");

            // Closing one end of the loopback leaves the other unbound to us (EVTCHNSTAT_unbound 1).
            Runtime.WriteKernelBytes(Arg, BitConverter.GetBytes(portB));
            Printk($"close {EventOp(EventChannelCommand.Close)} status-a {Status(portA)}\n");
            Success();
        }

        private long EventOp(int cmd) => Hypercall(HypercallNumber.EventChannelOp, (ulong)cmd, Arg);

        private long Send(uint port)
        {
            Runtime.WriteKernelBytes(Arg, BitConverter.GetBytes(port));
            return EventOp(EventChannelCommand.Send);
        }

        private long BindVirq(uint virq, uint vcpu)
        {
            Runtime.WriteKernelBytes(Arg, [.. BitConverter.GetBytes(virq), .. BitConverter.GetBytes(vcpu), 0, 0, 0, 0]);
            return EventOp(EventChannelCommand.BindVirq);
        }

        private string Status(uint port)
        {
            var s = new byte[24];
            BitConverter.TryWriteBytes(s.AsSpan(0), DomainId.Self);
            BitConverter.TryWriteBytes(s.AsSpan(4), port);
            Runtime.WriteKernelBytes(Arg, s);
            long rc = EventOp(EventChannelCommand.Status);
            return $"{rc} {ReadU32(Arg + 8)}";
        }

        /// <summary>struct sched_poll: native { ports @0 (8), nr_ports @8, timeout @16 }, compat { ports @0, nr_ports @4, timeout @8 }; the port list after it.</summary>
        private long Poll(uint port, uint count, ulong? ports = null)
        {
            bool wide = Bitness == 64;
            ulong list = Arg + 0x100;
            Runtime.WriteKernelBytes(list, BitConverter.GetBytes(port));
            var s = new byte[wide ? 24 : 16];
            if (wide)
                BitConverter.TryWriteBytes(s.AsSpan(0), ports ?? list);
            else
                BitConverter.TryWriteBytes(s.AsSpan(0), (uint)(ports ?? list));
            BitConverter.TryWriteBytes(s.AsSpan(wide ? 8 : 4), count);
            Runtime.WriteKernelBytes(Arg, s);
            return Hypercall(HypercallNumber.SchedOp, SchedOpCommand.Poll, Arg);
        }

        private void WriteInterdomain(ushort dom, uint port)
        {
            var s = new byte[12];
            BitConverter.TryWriteBytes(s.AsSpan(0), dom);
            BitConverter.TryWriteBytes(s.AsSpan(4), port);
            Runtime.WriteKernelBytes(Arg, s);
        }

        private uint ReadU32(ulong address)
        {
            var b = new byte[4];
            Runtime.PvDomain!.Guest.TryRead(address, b, user: false);
            return BitConverter.ToUInt32(b);
        }

        /// <summary>What a guest's event handler does: upcall_pending = 0, take pending_sel, clear the pending words.</summary>
        private void ClearEvents()
        {
            var pv = Runtime.PvDomain!;
            ulong page = pv.SharedInfoMfn << 12;
            bool wide = Bitness == 64;
            pv.Memory.Write(page, [0]);
            pv.Memory.Write(page + (wide ? 8ul : 4ul), new byte[wide ? 8 : 4]);
            pv.Memory.Write(page + 0x800, new byte[wide ? 0x200 : 0x80]);
        }

        private void SetMaskBit(uint port)
        {
            var pv = Runtime.PvDomain!;
            ulong at = (pv.SharedInfoMfn << 12) + (Bitness == 64 ? 0xA00ul : 0x880ul) + (port / 8);
            var b = new byte[1];
            pv.Memory.Read(at, b);
            b[0] |= (byte)(1 << (int)(port % 8));
            pv.Memory.Write(at, b);
        }
    }

    private static IReadOnlyList<string> Lines(Environments env)
    {
        var o = GuestHarness.Run<Upcalls>(env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        return o.Lines;
    }

    /// <summary>
    /// CALLBACKOP_register(event) then alloc_unbound(SELF) and bind_interdomain(SELF, A): Xen
    /// sets the new port B pending at once, so the hypercall's return delivers the upcall, with
    /// evtchn_upcall_mask 1 while the callback runs; the callback's HYPERVISOR_iret (IF set in
    /// the frame) clears the mask again.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void BindingALoopbackRaisesTheNewPortAndUpcallsWithEventsMasked(Environments env)
    {
        var l = Lines(env);
        Assert.That(l, Does.Contain("register 0").And.Contain("alloc 0"));
        Assert.That(l, Does.Contain("bind 0 upcalls=1 mask=1 a=0 b=1").And.Contain("port-b a+1").And.Contain("after mask=0"));
    }

    /// <summary>A send on one end of the loopback raises the other end: one upcall each.</summary>
    [TestCaseSource(nameof(Pv))]
    public void SendOnALoopbackRaisesTheOtherEnd(Environments env) =>
        Assert.That(Lines(env), Does.Contain("send-a 0 upcalls=2 mask=1 a=0 b=1").And.Contain("send-b 0 upcalls=3 mask=1 a=1 b=0"));

    /// <summary>
    /// evtchn_2l_set_pending on a masked port sets its pending bit but not pending_sel nor the
    /// upcall; EVTCHNOP_unmask clears the mask and, the port being pending, raises the upcall.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void UnmaskReraisesAPendingPort(Environments env) =>
        Assert.That(Lines(env), Does.Contain("masked 0 upcalls=3 pending-a=1 upcall-pending=0").And.Contain("unmask 0 upcalls=4 mask=1 a=1 b=0"));

    /// <summary>
    /// With evtchn_upcall_mask set nothing is delivered; SCHEDOP_poll returns 0 at once for a
    /// pending port, -EINVAL for a port at or above max_evtchns or more than 128 ports, -EFAULT
    /// for a port list in Xen's area; SCHEDOP_block re-enables events and the upcall follows.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void PollAndBlock(Environments env)
    {
        var l = Lines(env);
        Assert.That(l, Does.Contain("vmasked 0 upcalls=4").And.Contain("poll 0 poll-bad-port -22 poll-many -22").And.Contain("poll-fault -14"));
        Assert.That(l, Does.Contain("block 0 upcalls=5 mask=1 a=1 b=0"));
    }

    /// <summary>
    /// bind_interdomain: a domain that does not exist -ESRCH; a remote port not unbound to us
    /// (xenstore's, unbound to dom0) or already bound -EINVAL. bind_virq: virq &gt;= NR_VIRQS
    /// -EINVAL; a global VIRQ on vCPU 1 -EINVAL; a per-vCPU VIRQ on a vCPU that does not exist
    /// -ENOENT; a second bind -EEXIST; sends on a VIRQ port -EINVAL. bind_ipi: vCPU 1 -ENOENT;
    /// an IPI port raises itself. unmask of an invalid port -EINVAL; an unreadable argument -EFAULT.
    /// </summary>
    [TestCaseSource(nameof(Pv))]
    public void BindErrors(Environments env)
    {
        var l = Lines(env);
        Assert.That(l, Does.Contain("bind-nodomain -3").And.Contain("bind-notours -22").And.Contain("bind-bound -22"));
        Assert.That(l, Does.Contain("virq-range -22 virq-global-vcpu -22 virq-vcpu -2").And.Contain("virq 0 virq-again -17").And.Contain("send-virq -22"));
        Assert.That(l, Does.Contain("ipi-vcpu -2").And.Contain("ipi 0").And.Contain("send-ipi 0 upcalls=6"));
        Assert.That(l, Does.Contain("unmask-bad -22").And.Contain("bad-arg -14"));
    }

    /// <summary>evtchn_close on one end of a loopback: the other end is unbound again (EVTCHNSTAT_unbound = 1).</summary>
    [TestCaseSource(nameof(Pv))]
    public void ClosingOneEndLeavesTheOtherUnbound(Environments env) =>
        Assert.That(Lines(env), Does.Contain("close 0 status-a 0 1"));
}
