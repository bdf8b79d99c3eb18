using System.Buffers.Binary;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Machine;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Core.Xen.Console;
using Xtf.Core.Xen.Events;

namespace Xtf.Tests.Xen;

/// <summary>
/// HYPERVISOR_event_channel_op and HYPERVISOR_hvm_op as an HVM guest sees them, checked against
/// Xen's public ABI (event_channel.h, hvm/hvm_op.h, hvm/params.h, io/console.h) and the error
/// paths of xen/common/event_channel.c and xen/arch/x86/hvm/hvm.c. The domain is built as libxl
/// builds it: port 0 reserved, port 1 the xenstore channel (unbound to dom0), port 2 the console
/// channel (bound to the backend), the special pages at the top of the 128 MiB of RAM.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class EventChannelTests
{
    private const ulong BeyondRam = 0xFFFFF000;
    private const uint StorePort = 1, ConsolePort = 2;
    private const long ConsolePfn = (128L << 20 >> 12) - 1, StorePfn = ConsolePfn - 1;

    /// <summary>The guest: one scenario per variation, each expectation a failure when it does not hold.</summary>
    public sealed class EventChannelGuest : TestCase
    {
        private static readonly ulong Arg = HvmLayout.Scratch;

        public override void Main()
        {
            switch (Variation)
            {
                case "alloc-unbound": AllocUnbound(); break;
                case "send": Send(); break;
                case "close": Close(); break;
                case "status": Status(); break;
                case "unknown-command": UnknownCommand(); break;
                case "bucket-growth": BucketGrowth(); break;
                case "hvm-param": HvmParams(); break;
                case "fuzz": Fuzz(); break;
                default: Failure($"unknown scenario {Variation}\n"); return;
            }

            Success();
        }

        /// <summary>EVTCHNOP_alloc_unbound: the lowest free port (3) is returned in the structure and reads back unbound to the remote domain.</summary>
        private void AllocUnbound()
        {
            var (rc, port) = Alloc(DomainId.Self, DomainId.Dom0);
            Expect("alloc_unbound(DOMID_SELF, 0)", rc, 0);
            Expect("alloc_unbound's port: the lowest free one", port, 3);
            var st = QueryStatus(DomainId.Self, 3);
            Expect("status of the new port", st.Rc, 0);
            Expect("... is EVTCHNSTAT_unbound", st.Status, (long)EventChannelStatus.Unbound);
            Expect("... u.unbound.dom", st.Dom, DomainId.Dom0);
            Expect("... vcpu", st.Vcpu, 0);

            // remote_dom == DOMID_SELF is recorded as the caller's own id; dom may name us by id too.
            (rc, port) = Alloc(DomainId.FirstGuest, DomainId.Self);
            Expect("alloc_unbound(our id, DOMID_SELF)", rc, 0);
            Expect("its port", port, 4);
            Expect("... u.unbound.dom is our id", QueryStatus(DomainId.Self, 4).Dom, DomainId.FirstGuest);

            // rcu_lock_domain_by_any_id: no domain 9 (-ESRCH); dom0 exists but XSM_TARGET refuses it (-EPERM).
            Expect("alloc_unbound for domain 9", Alloc(9, DomainId.Dom0).Rc, -XenErrno.ESRCH);
            Expect("alloc_unbound for dom0", Alloc(DomainId.Dom0, DomainId.Dom0).Rc, -XenErrno.EPERM);
            Expect("alloc_unbound with the structure beyond RAM",
                Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.AllocUnbound, BeyondRam), -XenErrno.EFAULT);
            // copy_from_guest walks the guest's paging: NULL faults where page 0 is unmapped, but
            // with paging off (hvm32) linear 0 is simply RAM.
            if (Environment != Environments.Hvm32)
                Expect("alloc_unbound with a NULL structure", Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.AllocUnbound, 0), -XenErrno.EFAULT);
        }

        /// <summary>
        /// evtchn_send: an interdomain port notifies the
        /// remote end (0); a reserved, free or out-of-range port is -EINVAL.
        /// </summary>
        private void Send()
        {
            Expect("send on the xenstore port (the xenstore backend)", SendOn(StorePort), 0);
            Expect("send on the console port", SendOn(ConsolePort), 0);
            Expect("send on reserved port 0", SendOn(0), -XenErrno.EINVAL);
            Expect("send on free port 10", SendOn(10), -XenErrno.EINVAL);
            Expect("send on port 64, beyond bucket 0", SendOn(64), -XenErrno.EINVAL);
            Expect("send on port 0xffffffff", SendOn(0xFFFFFFFF), -XenErrno.EINVAL);
            Expect("send with the structure beyond RAM", Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.Send, BeyondRam), -XenErrno.EFAULT);
        }

        /// <summary>evtchn_close: a bound port closes once; a second close, and a send on it, are -EINVAL; it reads back closed.</summary>
        private void Close()
        {
            var (_, port) = Alloc(DomainId.Self, DomainId.Dom0);
            Expect("close of an unbound port", CloseOn(port), 0);
            Expect("close of it again", CloseOn(port), -XenErrno.EINVAL);
            Expect("send on the closed port", SendOn(port), -XenErrno.EINVAL);
            Expect("status of the closed port", QueryStatus(DomainId.Self, port).Status, (long)EventChannelStatus.Closed);
            Expect("the freed port is handed out again", Alloc(DomainId.Self, DomainId.Dom0).Port, port);
            Expect("close of reserved port 0", CloseOn(0), -XenErrno.EINVAL);
            Expect("close of port 64, beyond bucket 0", CloseOn(64), -XenErrno.EINVAL);
            Expect("close with the structure beyond RAM", Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.Close, BeyondRam), -XenErrno.EFAULT);
        }

        /// <summary>evtchn_status: states of the builder's ports, closed for free valid ports, -EINVAL beyond, -ESRCH/-EPERM for other domains.</summary>
        private void Status()
        {
            var console = QueryStatus(DomainId.Self, ConsolePort);
            Expect("status of the console port", console.Rc, 0);
            Expect("... EVTCHNSTAT_interdomain", console.Status, (long)EventChannelStatus.Interdomain);
            Expect("... u.interdomain.dom", console.Dom, DomainId.Dom0);
            Expect("... u.interdomain.port", console.Port, DomainState.ConsoleBackendPort);
            var store = QueryStatus(DomainId.FirstGuest, StorePort);
            Expect("status of the xenstore port (xenstored bound it: XTF's xenstore_init needs interdomain)", store.Status, (long)EventChannelStatus.Interdomain);
            Expect("... u.interdomain.dom", store.Dom, DomainId.Dom0);
            Expect("... u.interdomain.port", store.Port, DomainState.StoreBackendPort);
            Expect("status of reserved port 0", QueryStatus(DomainId.Self, 0).Status, (long)EventChannelStatus.Closed);
            Expect("status of free port 63", QueryStatus(DomainId.Self, 63).Status, (long)EventChannelStatus.Closed);
            Expect("status of port 64, beyond bucket 0", QueryStatus(DomainId.Self, 64).Rc, -XenErrno.EINVAL);
            Expect("status in domain 7", QueryStatus(7, ConsolePort).Rc, -XenErrno.ESRCH);
            Expect("status in dom0", QueryStatus(DomainId.Dom0, 1).Rc, -XenErrno.EPERM);
            Expect("status with the structure beyond RAM", Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.Status, BeyondRam), -XenErrno.EFAULT);
        }

        /// <summary>do_event_channel_op's default case; the command is an int, so 0xffffffff is -1.</summary>
        private void UnknownCommand()
        {
            Expect("event_channel_op(99)", Hypercall(HypercallNumber.EventChannelOp, 99, Arg), -XenErrno.ENOSYS);
            Expect("event_channel_op(-1)", Hypercall(HypercallNumber.EventChannelOp, 0xFFFFFFFF, Arg), -XenErrno.ENOSYS);
            Expect("hvm_op(99)", Hypercall(HypercallNumber.HvmOp, 99, Arg), -XenErrno.ENOSYS);
        }

        /// <summary>get_free_port: port 64 opens bucket 1 (64..127); 128 stays invalid; after port 1023 the table is full (-ENOSPC).</summary>
        private void BucketGrowth()
        {
            for (uint expected = 3; expected <= 64; expected++)
                Expect($"alloc_unbound #{expected}", Alloc(DomainId.Self, DomainId.Dom0).Port, expected);
            Expect("status of port 127 once bucket 1 exists", QueryStatus(DomainId.Self, 127).Status, (long)EventChannelStatus.Closed);
            Expect("status of port 128", QueryStatus(DomainId.Self, 128).Rc, -XenErrno.EINVAL);
            for (uint expected = 65; expected < EventChannels.DefaultMaxPorts; expected++)
            {
                if (Alloc(DomainId.Self, DomainId.Dom0).Port != expected)
                    Failure($"Fail: alloc_unbound did not return port {expected}\n");
            }

            Expect("alloc_unbound with every port in use", Alloc(DomainId.Self, DomainId.Dom0).Rc, -XenErrno.ENOSPC);
        }

        /// <summary>hvmop_{get,set}_param: the builder's four params; what a guest may read and write of its own; the checks' order.</summary>
        private void HvmParams()
        {
            Expect("HVM_PARAM_CONSOLE_PFN", GetParam(DomainId.Self, HvmParam.ConsolePfn), ConsolePfn);
            Expect("HVM_PARAM_CONSOLE_EVTCHN", GetParam(DomainId.Self, HvmParam.ConsoleEvtchn), ConsolePort);
            Expect("HVM_PARAM_STORE_PFN", GetParam(DomainId.FirstGuest, HvmParam.StorePfn), StorePfn);
            Expect("HVM_PARAM_STORE_EVTCHN", GetParam(DomainId.Self, HvmParam.StoreEvtchn), StorePort);
            Expect("get_param index 39 (HVM_NR_PARAMS)", ParamOp(1, DomainId.Self, 39), -XenErrno.EINVAL);
            Expect("get_param index 0xffffffff", ParamOp(1, DomainId.Self, 0xFFFFFFFF), -XenErrno.EINVAL);
            Expect("set_param index 39", ParamOp(0, DomainId.Self, 39), -XenErrno.EINVAL);
            Expect("get_param in domain 9", ParamOp(1, 9, HvmParam.ConsolePfn), -XenErrno.ESRCH);
            Expect("get_param in dom0 (a PV domain)", ParamOp(1, DomainId.Dom0, HvmParam.ConsolePfn), -XenErrno.EINVAL);
            Expect("get_param of HVM_PARAM_PAE_ENABLED (4), not readable by the guest", ParamOp(1, DomainId.Self, 4), -XenErrno.EPERM);
            Expect("set_param of HVM_PARAM_CONSOLE_PFN, not writable by the guest", ParamOp(0, DomainId.Self, HvmParam.ConsolePfn, 5), -XenErrno.EPERM);
            Expect("HVM_PARAM_CONSOLE_PFN unchanged", GetParam(DomainId.Self, HvmParam.ConsolePfn), ConsolePfn);
            Expect("set_param of HVM_PARAM_CONSOLE_EVTCHN", ParamOp(0, DomainId.Self, HvmParam.ConsoleEvtchn, 0x1_0000_0007), 0);
            Expect("HVM_PARAM_CONSOLE_EVTCHN reads back all 64 bits", GetParam(DomainId.Self, HvmParam.ConsoleEvtchn), 0x1_0000_0007);
            Expect("get_param with the structure beyond RAM", Hypercall(HypercallNumber.HvmOp, 1, BeyondRam), -XenErrno.EFAULT);
            if (Environment != Environments.Hvm32)
                Expect("set_param with a NULL structure (page 0 unmapped)", Hypercall(HypercallNumber.HvmOp, 0, 0), -XenErrno.EFAULT);
        }

        /// <summary>Random commands, contents and pointers: every call returns, and the guest runs on to report.</summary>
        private void Fuzz()
        {
            var rng = new Random(6);
            ulong[] pointers = [Arg, Arg + 0xFF8, 0, 0x1000 - 4, BeyondRam, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFF0];
            var bytes = new byte[24];
            for (int i = 0; i < 400; i++)
            {
                rng.NextBytes(bytes);
                if (i % 3 == 0)
                {
                    // Small domids, ports and indices reach the handlers' deeper paths (never the console port).
                    bytes.AsSpan().Clear();
                    ushort[] doms = [DomainId.Dom0, DomainId.FirstGuest, DomainId.Self, 9];
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes, doms[rng.Next(doms.Length)]);
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)rng.Next(0, 70));
                }

                Runtime.WriteKernelBytes(Arg, bytes);
                ulong ptr = pointers[rng.Next(pointers.Length)];
                ulong cmd = rng.Next(4) == 0 ? (ulong)rng.NextInt64() : (ulong)rng.Next(-1, 14);
                _ = Hypercall(rng.Next(2) == 0 ? HypercallNumber.EventChannelOp : HypercallNumber.HvmOp, cmd, ptr);
            }

            Printk("fuzzing done\n");
        }

        private (long Rc, uint Port) Alloc(ushort dom, ushort remote)
        {
            var s = new byte[8];
            BinaryPrimitives.WriteUInt16LittleEndian(s, dom);
            BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(2), remote);
            BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), 0xDEADBEEF);
            Runtime.WriteKernelBytes(Arg, s);
            long rc = Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.AllocUnbound, Arg);
            return (rc, ReadUInt32(Arg + 4));
        }

        private long SendOn(uint port) => PortOp(EventChannelCommand.Send, port);

        private long CloseOn(uint port) => PortOp(EventChannelCommand.Close, port);

        private long PortOp(int cmd, uint port)
        {
            Runtime.WriteKernelBytes(Arg, BitConverter.GetBytes(port));
            return Hypercall(HypercallNumber.EventChannelOp, (ulong)cmd, Arg);
        }

        private (long Rc, long Status, long Vcpu, long Dom, long Port) QueryStatus(ushort dom, uint port)
        {
            var s = new byte[24];
            s.AsSpan().Fill(0xAA);
            BinaryPrimitives.WriteUInt16LittleEndian(s, dom);
            BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), port);
            Runtime.WriteKernelBytes(Arg, s);
            long rc = Hypercall(HypercallNumber.EventChannelOp, EventChannelCommand.Status, Arg);
            return (rc, ReadUInt32(Arg + 8), ReadUInt32(Arg + 12), ReadUInt32(Arg + 16) & 0xFFFF, ReadUInt32(Arg + 20));
        }

        private long ParamOp(ulong op, ushort domid, uint index, ulong value = 0)
        {
            var s = new byte[16];
            BinaryPrimitives.WriteUInt16LittleEndian(s, domid);
            BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), index);
            BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(8), value);
            Runtime.WriteKernelBytes(Arg, s);
            return Hypercall(HypercallNumber.HvmOp, op, Arg);
        }

        private long GetParam(ushort domid, int index)
        {
            long rc = ParamOp(1, domid, (uint)index);
            if (rc != 0)
                Failure($"Fail: get_param({index}) returned {rc}\n");
            return (long)(ReadUInt32(Arg + 8) | ((ulong)ReadUInt32(Arg + 12) << 32));
        }

        private uint ReadUInt32(ulong address)
        {
            uint v = 0;
            for (int i = 3; i >= 0; i--)
                v = (v << 8) | Runtime.ReadKernelByte(address + (ulong)i);
            return v;
        }

        private void Expect(string what, long got, long expected)
        {
            if (got != expected)
                Failure($"Fail: {what}: got {got}, expected {expected}\n");
        }
    }

    private static InstanceOutcome Run(string scenario, Environments env, long budget = 20_000_000)
    {
        var descriptor = new TestDescriptor("event-channels", Category.Special, env, "event channels and HVM params", [scenario], typeof(EventChannelGuest));
        return new TestEngine().Run(new TestInstance(descriptor, env, scenario), new RunSettings { InstructionBudget = budget });
    }

    [TestCase("alloc-unbound", Environments.Hvm32, TestName = "EVTCHNOP_alloc_unbound: lowest free port, remote DOMID_SELF is our id, -ESRCH/-EPERM/-EFAULT")]
    [TestCase("send", Environments.Hvm32, TestName = "EVTCHNOP_send: unbound dropped, interdomain notifies, reserved/free/out-of-range port -EINVAL, bad pointer -EFAULT")]
    [TestCase("close", Environments.Hvm32, TestName = "EVTCHNOP_close: closes once, second close -EINVAL, closed port reads EVTCHNSTAT_closed and is reused")]
    [TestCase("status", Environments.Hvm32, TestName = "EVTCHNOP_status: builder's ports, closed within a bucket, -EINVAL beyond it, -ESRCH/-EPERM/-EFAULT")]
    [TestCase("unknown-command", Environments.Hvm32, TestName = "event_channel_op and hvm_op: unknown commands are -ENOSYS")]
    [TestCase("bucket-growth", Environments.Hvm32, TestName = "get_free_port: buckets of 64 ports grow on demand, -ENOSPC after port 1023")]
    [TestCase("hvm-param", Environments.Hvm32, TestName = "HVMOP_get/set_param: builder's console and xenstore params, -EINVAL/-ESRCH/-EPERM/-EFAULT")]
    [TestCase("alloc-unbound", Environments.Hvm64, TestName = "hvm64 EVTCHNOP_alloc_unbound (native ABI; NULL structure -EFAULT)")]
    [TestCase("send", Environments.Hvm32Pae, TestName = "hvm32pae EVTCHNOP_send")]
    [TestCase("status", Environments.Hvm64, TestName = "hvm64 EVTCHNOP_status (native ABI)")]
    [TestCase("hvm-param", Environments.Hvm64, TestName = "hvm64 HVMOP_get/set_param (native ABI)")]
    public void Scenario(string scenario, Environments env)
    {
        var o = Run(scenario, env, scenario == "bucket-growth" ? 100_000_000 : 20_000_000);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), $"{o.Diagnostic}\n{o.ConsoleLog}");
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void RandomArgumentsNeverThrowInTheHost(Environments env)
    {
        var o = Run("fuzz", env, 50_000_000);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), $"{o.Diagnostic}\n{o.ConsoleLog}");
        Assert.That(o.ConsoleLog, Does.Contain("fuzzing done\r\n"));
    }

    /// <summary>DESIGN.md section 5: every printk reaches the debug port, console_io and the PV console ring, byte for byte.</summary>
    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void SelftestRingLogEqualsDebugPortLog(Environments env)
    {
        var catalog = new TestCatalog([typeof(Xtf.TestCases.Example.Example).Assembly]);
        var instance = catalog.AllInstances().Single(i => i.Test.Name == "selftest" && i.Environment == env && i.Variation is null);
        var o = new TestEngine().Run(instance, new RunSettings { InstructionBudget = 20_000_000 });
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        Assert.That(o.PvConsole, Does.StartWith("--- Xen Test Framework ---\r\n"));
        Assert.That(o.PvConsole, Is.EqualTo(o.ConsoleLog));
    }

    /// <summary>The domain builder zeroes the special pages and publishes them and their ports in the params.</summary>
    [Test]
    public void BuilderZeroesTheRingAndPublishesTheParams()
    {
        var memory = new PhysicalMemory(1 << 20);
        memory.Write(0xFE000, Enumerable.Repeat((byte)0x5A, 0x2000).ToArray());
        var d = DomainState.CreateHvm(memory);
        var page = new byte[0x2000];
        memory.Read(0xFE000, page);
        Assert.That(page.All(b => b == 0), Is.True, "the xenstore and console pages are zeroed");
        Assert.That(d.HvmParams[HvmParam.StorePfn], Is.EqualTo(0xFE));
        Assert.That(d.HvmParams[HvmParam.ConsolePfn], Is.EqualTo(0xFF));
        Assert.That(d.HvmParams[HvmParam.StoreEvtchn], Is.EqualTo(StorePort));
        Assert.That(d.HvmParams[HvmParam.ConsoleEvtchn], Is.EqualTo(ConsolePort));
        Assert.That(d.Console!.Frame, Is.EqualTo(0xFF));
    }

    /// <summary>
    /// io/console.h: out[MASK_XENCONS_IDX(idx, out)] with a 2048-byte ring. Indices run free:
    /// cons 2044, prod 2050 are the bytes at out[2044..2047] then out[0..1]; out_cons becomes 2050.
    /// </summary>
    [Test]
    public void BackendConsumesAcrossTheRingWrap()
    {
        var memory = new PhysicalMemory(1 << 20);
        var ring = new ConsoleRing(memory, 0x10);
        ulong page = 0x10000;
        memory.Write(page + ConsoleRing.OutOffset + 2044, "abcd"u8);
        memory.Write(page + ConsoleRing.OutOffset, "ef"u8);
        WriteIndex(memory, page + ConsoleRing.OutConsOffset, 2044);
        WriteIndex(memory, page + ConsoleRing.OutProdOffset, 2050);
        ring.Notify();
        Assert.That(ring.Log.Text, Is.EqualTo("abcdef"));
        Assert.That(ReadIndex(memory, page + ConsoleRing.OutConsOffset), Is.EqualTo(2050));

        // Unsigned index arithmetic: prod may wrap past 2^32 ahead of cons.
        WriteIndex(memory, page + ConsoleRing.OutConsOffset, 0xFFFFFFFF);
        WriteIndex(memory, page + ConsoleRing.OutProdOffset, 1);
        memory.Write(page + ConsoleRing.OutOffset + 2047, "g"u8);
        memory.Write(page + ConsoleRing.OutOffset, "h"u8);
        ring.Notify();
        Assert.That(ring.Log.Text, Is.EqualTo("abcdefgh"));
    }

    /// <summary>xenconsoled's buffer_append: a producer more than sizeof(out) ahead is a broken ring, left untouched.</summary>
    [Test]
    public void BackendIgnoresAnOverfullRing()
    {
        var memory = new PhysicalMemory(1 << 20);
        var ring = new ConsoleRing(memory, 0x10);
        WriteIndex(memory, 0x10000 + ConsoleRing.OutConsOffset, 0);
        WriteIndex(memory, 0x10000 + ConsoleRing.OutProdOffset, 2049);
        ring.Notify();
        Assert.That(ring.Log.Length, Is.Zero);
        Assert.That(ReadIndex(memory, 0x10000 + ConsoleRing.OutConsOffset), Is.Zero);
    }

    private static void WriteIndex(PhysicalMemory memory, ulong address, uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        memory.Write(address, b);
    }

    private static uint ReadIndex(PhysicalMemory memory, ulong address)
    {
        var b = new byte[4];
        memory.Read(address, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }
}
