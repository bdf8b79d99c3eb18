using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.Tests.Guests;

namespace Xtf.Tests.Xen;

/// <summary>
/// Preemption of long hypercalls: between units of work Xen's batch hypercalls call
/// hypercall_preempt_check() and may return hypercall_create_continuation(op, ...)
/// (xen/arch/x86/hypercall.c), which the guest re-executes. Continuation arguments are Xen's:
/// do_multicall (xen/common/multicall.c) continues with (call_list advanced, nr_calls - i),
/// copying a preempted sub-call's continuation into its entry first; guest_console_write
/// (xen/drivers/char/console.c) with (CONSOLEIO_write, count left, buffer advanced) after 127-byte
/// chunks. Our check charges one budget unit per unit of work and is true when the budget is spent.
/// </summary>
[TestFixture]
public sealed class HypercallPreemptionTests
{
    private const ulong List = 0x8000;
    private const ulong Text = 0x9000;

    [Test]
    public void MulticallContinuesAtTheFirstEntryNotRun()
    {
        // Budget 3: entry 0 runs, the checks before entries 1, 2 and 3 charge a unit each, the
        // third finds the budget spent: entries 0-2 done, continuation (list + 3 * 64, 5 - 3).
        var d = new HypercallTestDomain(is64Bit: true);
        var entry = MulticallTests.NativeEntry(HypercallNumber.XenVersion, XenVersionCommand.Pagesize);
        d.Write(List, [.. Enumerable.Repeat(entry, 5).SelectMany(e => e)]);
        d.Vm.Cpu.Budget = 3;

        long rc = d.Call(HypercallNumber.Multicall, List, 5);

        var p = d.Preemption;
        Assert.Multiple(() =>
        {
            Assert.That(rc, Is.EqualTo(HypercallNumber.Multicall), "hypercall_create_continuation returns op");
            Assert.That(p.Preempted, Is.True);
            Assert.That(p.Operation, Is.EqualTo(HypercallNumber.Multicall));
            Assert.That(p.Arguments.A1, Is.EqualTo(List + (3 * 64)));
            Assert.That(p.Arguments.A2, Is.EqualTo(2));
            Assert.That(d.ReadInt64(List + (2 * 64) + 8), Is.EqualTo(4096), "entry 2 done");
            Assert.That(d.ReadInt64(List + (3 * 64) + 8), Is.EqualTo(MulticallTests.Unrun), "entry 3 not run");
        });
    }

    [Test]
    public void ConsoleWriteContinuesAfterWholeChunks()
    {
        // Budget 1: the first 127-byte chunk is written, the check before the second spends the
        // unit: continuation (CONSOLEIO_write, 300 - 127, buffer + 127).
        var d = new HypercallTestDomain(is64Bit: true);
        d.Write(Text, [.. Enumerable.Range(0, 300).Select(i => (byte)('a' + (i % 26)))]);
        d.Vm.Cpu.Budget = 1;

        long rc = d.Call(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 300, Text);

        var a = d.Preemption.Arguments;
        Assert.Multiple(() =>
        {
            Assert.That(rc, Is.EqualTo(HypercallNumber.ConsoleIo));
            Assert.That((a.A1, a.A2, a.A3), Is.EqualTo(((ulong)ConsoleIoCommand.Write, 173ul, Text + 127)));
            Assert.That(d.HypervisorConsole.Length, Is.EqualTo(127));
        });
    }

    [Test]
    public void ConsoleWriteThatFaultsKeepsTheChunksBeforeIt()
    {
        // guest_console_write sends each chunk before copying the next: a copy that fails is
        // -EFAULT with the earlier chunks already on the console.
        var d = new HypercallTestDomain(is64Bit: true);
        ulong start = HypercallTestDomain.RamTop - 200;
        long rc = d.Call(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 400, start);
        Assert.That(rc, Is.EqualTo(-XenErrno.EFAULT));
        Assert.That(d.HypervisorConsole.Length, Is.EqualTo(127));
    }

    [Test]
    public void APreemptedEntryIsCopiedBackAsItsContinuation()
    {
        // A console write of 300 bytes as entry 0 with budget 1: the write preempts after one chunk;
        // do_multicall copies mcs->call back (op, result = op, the sub-call's continuation args)
        // and continues itself at entry 0: (list, 2).
        var d = new HypercallTestDomain(is64Bit: true);
        d.Write(Text, new byte[300]);
        d.Write(List, [.. MulticallTests.NativeEntry(HypercallNumber.ConsoleIo, ConsoleIoCommand.Write, 300, Text),
            .. MulticallTests.NativeEntry(HypercallNumber.XenVersion, XenVersionCommand.Pagesize)]);
        d.Vm.Cpu.Budget = 1;

        long rc = d.Call(HypercallNumber.Multicall, List, 2);

        var a = d.Preemption.Arguments;
        Assert.Multiple(() =>
        {
            Assert.That(rc, Is.EqualTo(HypercallNumber.Multicall));
            Assert.That((a.A1, a.A2), Is.EqualTo((List, 2ul)));
            Assert.That(d.ReadInt64(List), Is.EqualTo(HypercallNumber.ConsoleIo), "op");
            Assert.That(d.ReadInt64(List + 8), Is.EqualTo(HypercallNumber.ConsoleIo), "result");
            Assert.That(d.ReadInt64(List + 16), Is.EqualTo(ConsoleIoCommand.Write));
            Assert.That(d.ReadInt64(List + 24), Is.EqualTo(173));
            Assert.That(d.ReadInt64(List + 32), Is.EqualTo((long)Text + 127));
            Assert.That(d.ReadInt64(List + 64 + 8), Is.EqualTo(MulticallTests.Unrun), "entry 1 not run");
        });
    }

    /// <summary>
    /// A preempted VMCALL has not completed: Xen's exit handler skips update_guest_eip, which is
    /// where a TF single-step #DB would be injected (vmx.c EXIT_REASON_VMCALL). With TF set, a
    /// multicall preempted twice raises one #DB, after its last entry, at the instruction after it.
    /// </summary>
    [Test]
    public void APreemptedVmcallIsNotSingleStepped()
    {
        const ulong Code = 0x10000, Idt = 0x3000, Handler = 0x11000, Entries = 25;
        var vm = new Xtf.Core.Machine.VirtualMachine(new Xtf.Core.Machine.MachineOptions { MemoryBytes = 4ul << 20, InstructionBudget = 1000 });
        var hvm = new HvmDomain(vm);
        Xtf.Core.Testing.Fuzzing.FlatProtectedMode.Enter(vm, Code, ExecutionTier.Compiled); // TF: every tier single-steps
        vm.Memory.Write(Code, [0x0F, 0x01, 0xC1, 0x90]); // vmcall; nop
        vm.Memory.Write(Handler, [0xF4]);                // the #DB handler: hlt
        ulong gate = (Handler & 0xFFFF) | (0x08ul << 16) | (0x8Eul << 40) | ((Handler >> 16) << 48); // 32-bit interrupt gate, DPL 0
        vm.Memory.Write(Idt + 8, BitConverter.GetBytes(gate));
        vm.Cpu.Idtr.Base = Idt;
        vm.Cpu.Idtr.Limit = 0xFF;
        var list = new byte[Entries * 32];
        for (int i = 0; i < (int)Entries; i++)
        {
            BitConverter.TryWriteBytes(list.AsSpan(i * 32), HypercallNumber.XenVersion);
            BitConverter.TryWriteBytes(list.AsSpan((i * 32) + 8), XenVersionCommand.Pagesize);
        }

        vm.Memory.Write(List, list);
        vm.Cpu.Eax = HypercallNumber.Multicall;
        vm.Cpu.Ebx = (uint)List;
        vm.Cpu.Ecx = (uint)Entries;
        vm.Cpu.Eflags |= RFlags.TF;
        vm.Cpu.Budget = 10; // grants of 10: the batch is preempted twice

        var stops = new List<StopReason>();
        for (int grant = 0; grant < 10 && (stops.Count == 0 || stops[^1] == StopReason.BudgetExhausted); grant++)
        {
            vm.Cpu.Budget = 10;
            stops.Add(vm.Cpu.Run());
        }

        var frame = new byte[4];
        vm.Memory.Read(0x80000 - 12, frame); // the #DB frame's EIP (no privilege change: EIP, CS, EFLAGS)
        var last = new byte[4];
        vm.Memory.Read(List + ((Entries - 1) * 32) + 4, last);
        Assert.Multiple(() =>
        {
            Assert.That(stops[^1], Is.EqualTo(StopReason.Halted), string.Join(", ", stops));
            Assert.That(stops.Count(s => s == StopReason.BudgetExhausted), Is.GreaterThanOrEqualTo(2), "preempted at least twice");
            Assert.That(hvm.Preemption.Preempted, Is.False);
            Assert.That(BitConverter.ToInt32(last), Is.EqualTo(4096), "the last entry ran before the #DB");
            Assert.That(BitConverter.ToUInt32(frame), Is.EqualTo(Code + 3), "#DB after the VMCALL completed");
            Assert.That(vm.Cpu.Eax, Is.EqualTo(0u), "the multicall's result");
        });
    }

    /// <summary>A multicall far longer than one grant of budget: every entry's result arrives, the continuations are the guest's own re-executed hypercall.</summary>
    public sealed class LongMulticallGuest : TestCase
    {
        public const ulong List = 0x200000; // free and mapped in every environment (PV: the builder maps to the next 4 MiB boundary)
        public const int Entries = 28_000;

        public override void Main()
        {
            int size = Bitness == 64 ? 64 : 32;
            var list = new byte[Entries * size];
            for (int i = 0; i < Entries; i++)
            {
                // xen_version(XENVER_pagesize) = 4096; op at 0, args[0] at 2 fields.
                BitConverter.TryWriteBytes(list.AsSpan(i * size), HypercallNumber.XenVersion);
                BitConverter.TryWriteBytes(list.AsSpan((i * size) + (size / 4)), XenVersionCommand.Pagesize);
            }

            Runtime.WriteKernelBytes(List, list);
            long rc = Hypercall(HypercallNumber.Multicall, List, Entries);
            if (rc != 0)
                Failure($"Fail: multicall returned {rc}\n");
            for (int i = 0; i < Entries; i++)
            {
                int r = Runtime.ReadKernelByte(List + (ulong)(i * size) + (ulong)(size / 8) + 1);
                if (r != 0x10)
                {
                    Failure($"Fail: entry {i} result byte 1 is {r:x}, expected 0x10 (4096)\n");
                    break;
                }
            }

            Success();
        }
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    [TestCase(Environments.Pv64)]
    [TestCase(Environments.Pv32Pae)]
    public void AMulticallLongerThanTheBudgetGrantCompletes(Environments env)
    {
        var o = GuestHarness.Run<LongMulticallGuest>(budget: 50_000_000, env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    /// <summary>Multicalls of 2^32 - 1 entries over zeroed RAM (op 0, -ENOSYS each), forever.</summary>
    public sealed class EndlessMulticallGuest : TestCase
    {
        public override void Main()
        {
            while (true)
                Hypercall(HypercallNumber.Multicall, LongMulticallGuest.List, 0xFFFF_FFFF);
        }
    }

    /// <summary>GNTTABOP_map_grant_ref batches over the rest of the 4 MiB a PV guest has mapped (each a bad request, its status written back), forever.</summary>
    public sealed class EndlessGrantMapGuest : TestCase
    {
        public override void Main()
        {
            while (true)
                Hypercall(HypercallNumber.GrantTableOp, Xtf.Core.Xen.GrantTables.GnttabOp.MapGrantRef, LongMulticallGuest.List, 0x7FFF_FFFF);
        }
    }

    /// <summary>gnttab_map_grant_ref preempts between requests ("if ( i &amp;&amp; hypercall_preempt_check() ) return i;"), so the budget bounds a loop of huge batches.</summary>
    [Test]
    public void EndlessGrantMapsEndOnTheBudget()
    {
        var o = GuestHarness.Run<EndlessGrantMapGuest>(budget: 3_000_000, env: Environments.Pv64);
        Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Diagnostic, Does.Contain("instruction budget of 3000000 exhausted"));
    }

    /// <summary>
    /// The budget bounds a guest's hypercall work: each multicall entry is a unit. Unpreempted, one
    /// such call ran its ~4 million entries (to the end of the 128 MiB of RAM) for a single
    /// instruction and the guest looped on it past the budget until the 60 s watchdog (measured).
    /// </summary>
    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Pv64)]
    public void EndlessMulticallsEndOnTheBudget(Environments env)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var o = GuestHarness.Run<EndlessMulticallGuest>(budget: 3_000_000, env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Diagnostic, Does.Contain("instruction budget of 3000000 exhausted"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "bound on wall time (generous: a shared machine)");
    }
}
