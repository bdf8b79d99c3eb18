using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Xen;

/// <summary>
/// Nothing a PV guest passes to a hypercall may throw in the host: the guest calls every number
/// 0..63 with seeded random arguments (small values, counts, and pointers that are valid,
/// unmapped, beyond RAM, in Xen's area, non-canonical or wrapping), from user mode by
/// <c>int $0x82</c> (a #GP unless the hypercall iopl admits it) and from the kernel by its own
/// hypercall instruction (pv64 <c>syscall</c>, pv32pae <c>int $0x82</c>). Any negative result
/// must be an errno; the run must end with the guest's own result line, not a CRASH.
/// Not called with random arguments, since a valid-looking call legitimately changes the
/// guest's world under the test's feet: set_trap_table (0), stack_switch (3), set_callbacks (4)
/// and callback_op (30) (handlers and stacks), mmu_update (1), update_va_mapping (14, 22) and
/// mmuext_op (26) (its own mappings; MmuRobustnessTests feed those random arguments), multicall
/// (13, whose entries could be any of these), iret (23), and SCHEDOP_shutdown /
/// remote_shutdown / shutdown_code. After each call the debug registers and CR0.TS are reset
/// (a random DR7 or fpu_taskswitch is legitimate but would raise #DB/#NM later).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class PvRandomHypercallTests
{
    private static readonly int[] Excluded = [0, 1, 3, 4, 13, 14, 22, 23, 26, 30];

    public sealed class PvRandomHypercallGuest : TestCase
    {
        private Random rng = new(0);

        public override void Main()
        {
            rng = new Random(int.Parse(Variation ?? "0", System.Globalization.CultureInfo.InvariantCulture));
            for (int nr = 0; nr < 64; nr++)
            {
                if (Excluded.Contains(nr))
                    continue;
                var a = RandomArgs(nr);
                var r = ExecUserDetailed(c => Int82(c, nr, a));
                if (!r.Fault.IsNone && r.Fault.Vector != 13)
                    Failure($"Fail: hypercall {nr} from user mode raised {r.Fault}\n");
                Reset();
            }

            for (int round = 0; round < 3; round++)
            {
                for (int nr = 0; nr < 64; nr++)
                {
                    if (Excluded.Contains(nr))
                        continue;
                    var a = RandomArgs(nr);
                    var r = ExecDetailed(c => KernelHypercall(c, nr, a));
                    long result = Bitness == 64 ? (long)r.Rax : (int)r.Eax;
                    // get_debugreg returns a register's value, which a 32-bit caller may read as negative (DR6 = 0xffff0ff0).
                    if (result < -4095 && nr != HypercallNumber.GetDebugreg)
                        Failure($"Fail: hypercall {nr}({a}) returned {result}, not a result or an -errno\n");
                    Reset();
                }
            }

            Success();
        }

        private void Reset()
        {
            Hypercall(HypercallNumber.SetDebugreg, 7, 0);
            Hypercall(HypercallNumber.FpuTaskswitch, 0);
        }

        private void KernelHypercall(Iced.Intel.Assembler c, int nr, HypercallArgs a)
        {
            HypercallRegisters.Load(c, a);
            c.mov(eax, nr);
            if (Bitness == 64)
                c.syscall();
            else
                c.@int(0x82);
        }

        private static void Int82(Iced.Intel.Assembler c, int nr, HypercallArgs a)
        {
            HypercallRegisters.Load(c, a);
            c.mov(eax, nr);
            c.@int(0x82);
        }

        private HypercallArgs RandomArgs(int nr)
        {
            ulong cmd = Value();
            if (nr is HypercallNumber.SchedOp or HypercallNumber.SchedOpCompat
                && (uint)cmd is SchedOpCommand.Shutdown or SchedOpCommand.RemoteShutdown or SchedOpCommand.ShutdownCode)
                cmd = 99;
            return new HypercallArgs(cmd, Value(), Value(), Value(), Value());
        }

        private ulong Value() => rng.Next(3) switch
        {
            0 => (ulong)rng.Next(16),
            1 => rng.Next(6) switch
            {
                0 => 0,
                1 => 1,
                2 => (ulong)rng.Next(0x200),
                3 => 0x7FFFFFFF,
                4 => 0xFFFFFFFF,
                _ => 0xFFFFFFFFFFFFFFFF,
            },
            _ => rng.Next(10) switch
            {
                // Kernel scratch and user data: writable pages that hold nothing the runtime needs.
                0 or 1 => HvmLayout.Scratch + (ulong)rng.Next(0x100),
                2 => HvmLayout.UserData + (ulong)rng.Next(0x100),
                3 => 0xF580_0000,                   // the compat M2P (read-only)
                4 => 0xFFFF_F000,                   // Xen's compat area
                5 => 0x0000_8000_0000_0000,         // non-canonical
                6 => 0xFFFF_8000_0000_0000,         // the pv64 M2P (read-only)
                7 => 0xFFFF_8200_0000_0000,         // Xen's per-domain area (supervisor)
                8 => 0xFFFF_FFFF_FFFF_FFF8,         // wraps around 2^64
                _ => (ulong)rng.NextInt64(),
            },
        };
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var env in new[] { Environments.Pv32Pae, Environments.Pv64 })
        {
            for (int seed = 0; seed < 3; seed++)
                yield return new TestCaseData(env, seed).SetArgDisplayNames(GuestEnvironment.Name(env), $"seed {seed}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void RandomHypercallArgumentsNeverThrowInTheHost(Environments env, int seed)
    {
        string variation = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var descriptor = new TestDescriptor("pv-random-hypercalls", Category.Special, env, "random PV hypercall arguments", [variation], typeof(PvRandomHypercallGuest));
        var outcome = new TestEngine().Run(new TestInstance(descriptor, env, variation), new RunSettings { InstructionBudget = 20_000_000 });
        Assert.That(outcome.Result, Is.Not.EqualTo(TestResult.Crash), outcome.Diagnostic + "\n" + outcome.ConsoleLog);
        Assert.That(outcome.Result, Is.EqualTo(TestResult.Success), outcome.ConsoleLog);
    }
}
