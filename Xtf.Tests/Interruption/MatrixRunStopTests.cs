using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Tests.Runner;
using static Iced.Intel.AssemblerRegisters;

namespace Xtf.Tests.Interruption;

/// <summary>A guest that never ends by itself: <c>1: jmp 1b</c> in the kernel, forever.</summary>
[XtfTest("spin-forever", Category.InDevelopment, Environments.Hvm32 | Environments.Pv64, Title = "Spin forever")]
public sealed class SpinForeverFixture : TestCase
{
    public override void Main()
    {
        Exec(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.jmp(top);
        });
        Success();
    }
}

/// <summary>
/// Issue 16 item 6, without signals: <see cref="MatrixRun"/>'s stop token starts no further
/// instance and what ran is a prefix of the selection; <see cref="RunSettings.Interrupt"/> ends a
/// running guest at its next budget chunk as CRASH <c>interrupted</c> (VcpuRun's reason).
/// </summary>
[TestFixture]
public sealed class MatrixRunStopTests
{
    private static readonly IReadOnlyList<TestInstance> Selection =
        [.. RunnerHarness.Catalog.AllInstances().Take(12)];

    [Test]
    public void StopBeforeTheRunStartsNothing()
    {
        var engine = new FakeTestEngine();
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        int reported = 0;

        var outcomes = MatrixRun.Run(engine, Selection, new RunSettings(), jobs: 2, inOrder: (_, _) => reported++, stop: stop.Token);

        Assert.Multiple(() =>
        {
            Assert.That(outcomes, Is.Empty);
            Assert.That(engine.Runs, Is.Empty);
            Assert.That(reported, Is.Zero);
        });
    }

    [Test]
    public void StopDuringASerialRunEndsAfterTheRunningInstance()
    {
        using var stop = new CancellationTokenSource();
        var engine = new FakeTestEngine();
        engine.OnRun = instance =>
        {
            if (instance == Selection[3])
                stop.Cancel();
        };
        var reported = new List<int>();

        var outcomes = MatrixRun.Run(engine, Selection, new RunSettings(), jobs: 1, inOrder: (i, _) => reported.Add(i), stop: stop.Token);

        Assert.Multiple(() =>
        {
            Assert.That(outcomes.Select(o => o.Instance), Is.EqualTo(Selection.Take(4)), "the four that started, the fourth finished");
            Assert.That(engine.Runs, Has.Count.EqualTo(4));
            Assert.That(reported, Is.EqualTo(new[] { 0, 1, 2, 3 }));
            Assert.That(outcomes.Select(o => o.Result), Is.All.EqualTo(TestResult.Success));
        });
    }

    [TestCase(2)]
    [TestCase(4)]
    public void StopDuringAParallelRunLeavesAPrefixAllReported(int jobs)
    {
        using var stop = new CancellationTokenSource();
        var engine = new FakeTestEngine();
        foreach (var instance in Selection)
            engine.Delay(instance.Id, TimeSpan.FromMilliseconds(20));
        engine.OnRun = instance =>
        {
            if (instance == Selection[5])
                stop.Cancel();
        };
        var reported = new List<int>();

        var outcomes = MatrixRun.Run(engine, Selection, new RunSettings(), jobs, inOrder: (i, _) => reported.Add(i), stop: stop.Token);

        Assert.Multiple(() =>
        {
            Assert.That(outcomes, Has.Count.InRange(6, 5 + jobs), "the sixth and at most jobs - 1 begun beside it");
            Assert.That(outcomes.Select(o => o.Instance), Is.EqualTo(Selection.Take(outcomes.Count)), "a prefix, in selection order");
            Assert.That(engine.Runs, Has.Count.EqualTo(outcomes.Count), "every started instance is in the result");
            Assert.That(reported, Is.EqualTo(Enumerable.Range(0, outcomes.Count)));
        });
    }

    /// <summary>
    /// A guest spinning with a budget it would take minutes to spend: the interrupt ends it within
    /// a chunk (10,000 units: well under a second even on a loaded machine), as CRASH <c>interrupted</c>.
    /// The 30 s timeout is only a backstop, so the test fails rather than hangs without the check.
    /// </summary>
    [TestCase("test-hvm32-spin-forever")]
    [TestCase("test-pv64-spin-forever")]
    public void InterruptEndsARunningGuestAsCrashInterrupted(string id)
    {
        var catalog = TestCatalog.FromTypes(typeof(SpinForeverFixture));
        var instance = catalog.AllInstances().Single(i => i.Id == id);
        // Warm up (JIT, image builder) with a small budget, so the interrupt below lands while the guest spins.
        Assert.That(new TestEngine().Run(instance, new RunSettings { InstructionBudget = 100_000 }).Diagnostic, Does.Contain("budget"));
        using var interrupt = new CancellationTokenSource();
        var settings = new RunSettings { InstructionBudget = long.MaxValue / 2, Timeout = TimeSpan.FromSeconds(30), Interrupt = interrupt.Token };
        interrupt.CancelAfter(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var outcome = MatrixRun.Run(new TestEngine(), [instance], settings).Single();

        Assert.Multiple(() =>
        {
            Assert.That(outcome.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(outcome.Diagnostic, Is.EqualTo("interrupted"));
            Assert.That(outcome.Instructions, Is.GreaterThan(1_000_000), "the guest ran before the interrupt");
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        });
    }
}
