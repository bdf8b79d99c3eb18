using Iced.Intel;
using NUnit.Framework;
using Xtf.Core.Cpu;
using Xtf.Core.Cpu.Segmentation;
using Xtf.Core.Guest;
using Xtf.Core.Machine;
using Xtf.Core.Testing;
using Xtf.Core.Testing.Fuzzing;
using Xtf.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Robustness;

/// <summary>
/// Issue 16, items 1-3: every instance ends in bounded time and memory however its guest spends
/// the budget. Decoded code is bounded per instance (self-modifying code reuses its frame at once;
/// fresh code frames are evicted past the cap), and a repeated string instruction is charged one
/// budget unit per iteration, so the budget and --timeout bound wall time. Memory bounds are
/// measured as bytes this thread allocated, generous against the cap, far below the unbounded cost.
/// </summary>
[TestFixture]
public sealed class BoundedRunTests
{
    private const ulong CodeAddress = 0x10000;

    /// <summary>About 470 KiB per decoded frame; the bound allows the whole cap and slack.</summary>
    private const long FrameBytes = 600 << 10;

    public static IEnumerable<ExecutionTier> Tiers() => Enum.GetValues<ExecutionTier>();

    /// <summary>Reproducer 1: `mov [0x10100], al; jmp 0x10000` stores into its own frame every iteration.</summary>
    [TestCaseSource(nameof(Tiers))]
    public void StoreIntoTheRunningFrameEveryIterationRunsInConstantMemory(ExecutionTier tier)
    {
        var vm = FlatMachine(tier, budget: 400_000);
        vm.Memory.Write(CodeAddress, [0xA2, 0x00, 0x01, 0x01, 0x00, 0xE9, 0xF6, 0xFF, 0xFF, 0xFF]); // mov [0x10100],al; jmp 0x10000
        vm.Cpu[X86Cpu.RAX] = 0x5A;
        long before = GC.GetAllocatedBytesForCurrentThread();

        var stop = vm.Cpu.Run();

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(stop, Is.EqualTo(StopReason.BudgetExhausted));
        Assert.That(vm.Cpu.Retired, Is.EqualTo(400_000));
        var stored = new byte[1];
        vm.Memory.Read(0x10100, stored);
        Assert.That(stored[0], Is.EqualTo(0x5A));
        Assert.That(vm.Cpu.DecodedFrames.Allocated, Is.LessThanOrEqualTo(2), "200,000 stores into the code frame");
        Assert.That(allocated, Is.LessThan(4 * FrameBytes), "bytes allocated (unbounded: 200,000 frames, ~90 GB)");
    }

    /// <summary>
    /// Code that rewrites the next instruction's immediate every iteration sees each store:
    /// `inc byte [L+2]; L: add ebx, imm8; dec ecx; jnz top; hlt` adds 1 + 2 + ... + 100.
    /// </summary>
    [TestCaseSource(nameof(Tiers))]
    public void CodeRewrittenEveryIterationExecutesTheNewBytes(ExecutionTier tier)
    {
        var vm = FlatMachine(tier, budget: 1_000_000);
        vm.Memory.Write(CodeAddress,
        [
            0xFE, 0x05, 0x08, 0x00, 0x01, 0x00, // inc byte [0x10008]
            0x83, 0xC3, 0x00,                   // add ebx, imm8 (the byte at 0x10008)
            0x49,                               // dec ecx
            0x75, 0xF4,                         // jnz 0x10000
            0xF4,                               // hlt
        ]);
        vm.Cpu[X86Cpu.RCX] = 100;

        var stop = vm.Cpu.Run();

        Assert.That(stop, Is.EqualTo(StopReason.Halted));
        Assert.That(vm.Cpu[X86Cpu.RBX], Is.EqualTo(5050));
        Assert.That(vm.Cpu.DecodedFrames.Allocated, Is.LessThanOrEqualTo(2));
    }

    /// <summary>Reproducer 2: zeroed RAM (`add [eax], al`) run through 1,500 fresh code frames.</summary>
    [Test]
    public void RunningThroughFreshCodeFramesEvictsPastTheCap()
    {
        const int Frames = 1500;
        var vm = FlatMachine(ExecutionTier.Compiled, budget: Frames * 2048, memoryBytes: 16ul << 20);
        vm.Cpu.Rip = 0x100000;
        vm.Cpu[X86Cpu.RAX] = 0x80000;
        long before = GC.GetAllocatedBytesForCurrentThread();

        var stop = vm.Cpu.Run();

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(stop, Is.EqualTo(StopReason.BudgetExhausted));
        Assert.That(vm.Cpu.Rip, Is.EqualTo(0x100000ul + (Frames * 4096ul)), "two bytes per `add [eax], al`");
        Assert.That(vm.Cpu.DecodedFrames.Resident, Is.LessThanOrEqualTo(DecodeCacheCapacity));
        Assert.That(vm.Cpu.DecodedFrames.Allocated, Is.LessThanOrEqualTo(DecodeCacheCapacity));
        Assert.That(allocated, Is.LessThan((DecodeCacheCapacity + 8) * FrameBytes), "bytes allocated (unbounded: 1,500 frames, ~700 MB)");
    }

    /// <summary>Reproducer 3: `rep movsb` with ECX = 2^32-1 takes exactly one budget unit per iteration.</summary>
    [TestCaseSource(nameof(Tiers))]
    public void RepMovsbIsChargedOneUnitPerIteration(ExecutionTier tier)
    {
        const long Budget = 100_000;
        var vm = FlatMachine(tier, budget: Budget);
        vm.Memory.Write(CodeAddress, [0xF3, 0xA4]); // rep movsb
        vm.Cpu[X86Cpu.RCX] = 0xFFFFFFFF;
        vm.Cpu[X86Cpu.RSI] = 0x100000;
        vm.Cpu[X86Cpu.RDI] = 0x200000;

        var stop = vm.Cpu.Run();

        Assert.That(stop, Is.EqualTo(StopReason.BudgetExhausted));
        Assert.That(vm.Cpu[X86Cpu.RCX], Is.EqualTo(0xFFFFFFFF - Budget), "iterations done");
        Assert.That(vm.Cpu[X86Cpu.RDI], Is.EqualTo(0x200000 + Budget));
        Assert.That(vm.Cpu.Rip, Is.EqualTo(CodeAddress), "interrupted between iterations: RIP stays on the instruction");
    }

    /// <summary>Reproducer 1 through the engine: ends as CRASH (budget), no host exception, bounded memory.</summary>
    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void SelfModifyingGuestEndsAsCrashInBoundedMemory(Environments env)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var o = GuestHarness.Run<SelfModifyingGuest>(budget: 2_000_000, env: env);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Diagnostic, Does.Contain("instruction budget of 2000000 exhausted"));
        Assert.That(allocated, Is.LessThan(1L << 30), "bytes allocated (unbounded: ~1,000,000 frames)");
    }

    /// <summary>Reproducer 3 through the engine: `rep lodsb` with RCX/ECX all ones ends on the budget.</summary>
    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    public void EndlessRepStringEndsOnTheBudget(Environments env)
    {
        var o = GuestHarness.Run<EndlessRepGuest>(budget: 3_000_000, env: env);
        Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Diagnostic, Does.Contain("instruction budget of 3000000 exhausted"));
    }

    /// <summary>
    /// --timeout stops a REP instruction of 2^64-1 iterations (once ~4,000 s per 1,000,000-unit
    /// chunk). The bound on wall time is generous (the machine is shared); the old overshoot was hours.
    /// </summary>
    [Test]
    public void TimeoutStopsAnEndlessRepString()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var o = GuestHarness.Run<EndlessRepGuest>(budget: long.MaxValue, env: Environments.Hvm64,
            settings: new RunSettings { Timeout = TimeSpan.FromMilliseconds(300) });
        Assert.That(o.Result, Is.EqualTo(TestResult.Crash), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.Diagnostic, Does.Contain("timeout of 0.3 s exceeded"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)));
    }

    private static int DecodeCacheCapacity => Xtf.Core.Cpu.Decoding.DecodeCache.Capacity;

    /// <summary>A store into the snippet's own frame, then a jump back, forever.</summary>
    public sealed class SelfModifyingGuest : TestCase
    {
        public override void Main()
        {
            Exec(a =>
            {
                // call/pop finds the snippet's address in 32- and 64-bit code alike.
                var here = a.CreateLabel();
                var top = a.CreateLabel();
                a.call(here);
                a.Label(ref here);
                if (a.Bitness == 64)
                    a.pop(rbx);
                else
                    a.pop(ebx);
                a.Label(ref top);
                if (a.Bitness == 64)
                    a.mov(__byte_ptr[rbx + 16], al); // into the nops below
                else
                    a.mov(__byte_ptr[ebx + 16], al);
                a.jmp(top);
                for (int n = 0; n < 32; n++)
                    a.nop();
            });
            Success();
        }
    }

    /// <summary>`rep lodsb` with the count register all ones, reading mapped RAM upwards.</summary>
    public sealed class EndlessRepGuest : TestCase
    {
        public override void Main()
        {
            Exec(a =>
            {
                if (a.Bitness == 64)
                {
                    a.mov(rcx, -1);
                    a.mov(esi, 0x100000);
                }
                else
                {
                    a.mov(ecx, -1);
                    a.mov(esi, 0x100000);
                }

                a.cld();
                a.rep.lodsb();
            });
            Success();
        }
    }

    private static VirtualMachine FlatMachine(ExecutionTier tier, long budget, ulong memoryBytes = 4ul << 20)
    {
        var vm = new VirtualMachine(new MachineOptions { MemoryBytes = memoryBytes, InstructionBudget = budget });
        FlatProtectedMode.Enter(vm, CodeAddress, tier);
        return vm;
    }
}
