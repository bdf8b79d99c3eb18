using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Guest.Image;
using Xtf.Core.Guest.Runtime;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Robustness;

/// <summary>
/// Nothing a guest passes to a hypercall may throw in the host: a guest calls every hypercall
/// number 0..63 by VMCALL with seeded random arguments (small integers, counts, and pointers
/// that are valid, unmapped, beyond RAM, in Xen's own half, non-canonical, or wrapping), first
/// from CPL 3, where hvm_hypercall refuses every call with -EPERM, then from CPL 0, where any
/// negative result must be an errno. The guest ends with its own Test result line; a host
/// exception would end it in CRASH with "host exception" in the diagnostic.
/// Excluded from CPL 0 only: SCHEDOP_shutdown, SCHEDOP_remote_shutdown and
/// SCHEDOP_shutdown_code, which legitimately end the domain or change the reason it ends with
/// (their error paths are in HypercallErrorPathTests). Multicall lists are built from the same
/// random entries with the same exclusion.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class RandomHypercallTests
{
    private const int Rounds = 4;

    public sealed class RandomHypercallGuest : TestCase
    {
        /// <summary>Batches live in the upper half of the scratch page; valid pointers point below it.</summary>
        private const ulong List = HvmLayout.Scratch + 0x800;

        private Random rng = new(0);

        public override void Main()
        {
            rng = new Random(int.Parse(Variation ?? "0", System.Globalization.CultureInfo.InvariantCulture));

            // CPL 3 first: a CPL 0 call with random arguments may change what user mode may do
            // (for example our set_hypercall_iopl extension).
            for (int nr = 0; nr < 64; nr++)
            {
                var a = RandomArgs(nr);
                var r = ExecUserDetailed(c => Vmcall(c, nr, a));
                long result = Bitness == 64 ? (long)r.Rax : (int)r.Eax;
                if (!r.Fault.IsNone)
                    Failure($"Fail: hypercall {nr} from CPL 3 raised {r.Fault}\n");
                else if (result != -XenErrno.EPERM)
                    Failure($"Fail: hypercall {nr} from CPL 3 returned {result}, expected -EPERM ({-XenErrno.EPERM})\n");
            }

            for (int round = 0; round < Rounds; round++)
            {
                for (int nr = 0; nr < 64; nr++)
                {
                    var a = RandomArgs(nr);
                    if (nr == HypercallNumber.Multicall && a.A1 == List)
                        WriteRandomList((int)a.A2);
                    var r = ExecDetailed(c => Vmcall(c, nr, a));
                    long result = Bitness == 64 ? (long)r.Rax : (int)r.Eax;
                    if (!r.Fault.IsNone)
                        Failure($"Fail: hypercall {nr}({a}) raised {r.Fault}\n");
                    else if (result < -4095)
                        Failure($"Fail: hypercall {nr}({a}) returned {result}, not a result or an -errno\n");
                }
            }

            Success();
        }

        private static void Vmcall(Iced.Intel.Assembler c, int nr, HypercallArgs a)
        {
            HypercallRegisters.Load(c, a);
            c.mov(eax, nr);
            c.vmcall();
        }

        private HypercallArgs RandomArgs(int nr)
        {
            if (nr == HypercallNumber.Multicall)
            {
                // A list in the scratch page with a few entries, or a bad list with any count: a
                // long list over valid RAM would take every mapped page as entries.
                return rng.Next(2) == 0
                    ? new HypercallArgs(List, (ulong)rng.Next(17), Value(), Value(), Value())
                    : new HypercallArgs(BadList(), Count(), Value(), Value(), Value());
            }

            ulong cmd = Value();
            if ((nr == HypercallNumber.SchedOp || nr == HypercallNumber.SchedOpCompat) && EndsTheDomain(cmd))
                cmd = 99;
            return new HypercallArgs(cmd, Value(), Value(), Value(), Value());
        }

        private static bool EndsTheDomain(ulong cmd) =>
            (uint)cmd is SchedOpCommand.Shutdown or SchedOpCommand.RemoteShutdown or SchedOpCommand.ShutdownCode;

        /// <summary>Native (64-byte) or compat (32-byte) entries, per the guest's mode.</summary>
        private void WriteRandomList(int entries)
        {
            int size = Bitness == 64 ? 64 : 32;
            var list = new byte[entries * size];
            for (int i = 0; i < entries; i++)
            {
                int op = rng.Next(64);
                var a = RandomArgs(op == HypercallNumber.Multicall ? HypercallNumber.ConsoleIo : op);
                ulong[] fields = [(ulong)op, 0x5A5A5A5A, a.A1, a.A2, a.A3, a.A4, a.A5, Value()];
                for (int f = 0; f < fields.Length; f++)
                {
                    if (size == 64)
                        BitConverter.TryWriteBytes(list.AsSpan((i * 64) + (f * 8)), fields[f]);
                    else
                        BitConverter.TryWriteBytes(list.AsSpan((i * 32) + (f * 4)), (uint)fields[f]);
                }

                // A nested multicall pointing back at the batch (refused with -EINVAL).
                if (op == HypercallNumber.Multicall)
                {
                    BitConverter.TryWriteBytes(list.AsSpan((i * size) + (2 * size / 8)), size == 64 ? List : (uint)List);
                }
            }

            Runtime.WriteKernelBytes(List, list);
        }

        /// <summary>A small command or count, a count, or a pointer, with roughly equal odds.</summary>
        private ulong Value() => rng.Next(3) switch
        {
            0 => (ulong)rng.Next(16),
            1 => Count(),
            _ => Pointer(),
        };

        private ulong Count() => rng.Next(6) switch
        {
            0 => 0,
            1 => 1,
            2 => (ulong)rng.Next(0x200),
            3 => 0x7FFFFFFF,
            4 => 0xFFFFFFFF,
            _ => 0xFFFFFFFFFFFFFFFF,
        };

        private ulong Pointer() => rng.Next(3) switch
        {
            // Writable scratch (below the batch) and user data: kernel and user pages that hold nothing.
            0 => rng.Next(2) == 0 ? HvmLayout.Scratch + (ulong)rng.Next(0x100) : HvmLayout.UserData + (ulong)rng.Next(0x100),
            // RAM above the image (16 MiB..128 MiB): valid and harmless to write.
            1 => 0x0100_0000ul + (ulong)rng.Next(0x0700_0000),
            _ => BadPointer(),
        };

        /// <summary>
        /// A list bad at the caller's width: a 32-bit caller's handle is the low half (EBX), and a
        /// list landing in RAM would run every page from there on as entries, with their result
        /// fields written back over the guest's own code (a CRASH the guest earned, not a host fault).
        /// </summary>
        private ulong BadList()
        {
            ulong p = BadPointer();
            return Bitness == 64 || (uint)p >= 0x0800_0000 ? p : p | 0x8000_0000;
        }

        private ulong BadPointer() => rng.Next(9) switch
        {
            0 => 0xFFFF_F000,                      // beyond RAM (32-bit)
            1 => 0xFFFF_FFFC,                      // straddles the top of the 32-bit space
            2 => 0x0000_7FFF_FFFF_F000,            // top of the lower canonical half, unmapped
            3 => 0x0000_8000_0000_0000,            // non-canonical
            4 => 0xFFFF_8000_0000_0000,            // Xen's half of the address space (unmapped for HVM)
            5 => 0xFFFF_FFFF_FFFF_FFF8,            // wraps around 2^64
            6 => 0xDEAD_BEEF_0000_0000 | (uint)rng.Next(),
            7 => (ulong)rng.NextInt64(),
            _ => 0x8000_0000ul + (ulong)rng.Next(0x7FFF_F000), // above RAM, 32-bit
        };
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (var env in new[] { Environments.Hvm32, Environments.Hvm32Pae, Environments.Hvm64 })
        {
            for (int seed = 0; seed < 4; seed++)
                yield return new TestCaseData(env, seed).SetArgDisplayNames(GuestEnvironment.Name(env), $"seed {seed}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void RandomHypercallArgumentsNeverThrowInTheHost(Environments env, int seed)
    {
        string variation = seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var descriptor = new TestDescriptor("random-hypercalls", Category.Special, env, "random hypercall arguments", [variation], typeof(RandomHypercallGuest));
        var outcome = new TestEngine().Run(new TestInstance(descriptor, env, variation), new RunSettings { InstructionBudget = 20_000_000 });
        Assert.That(outcome.Result, Is.Not.EqualTo(TestResult.Crash), outcome.Diagnostic + "\n" + outcome.ConsoleLog);
        Assert.That(outcome.Lines, Has.Some.StartsWith("Test result:"), outcome.ConsoleLog);
        Assert.That(outcome.Result, Is.EqualTo(TestResult.Success), outcome.ConsoleLog);
    }
}
