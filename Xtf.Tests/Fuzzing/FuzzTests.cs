using NUnit.Framework;
using Xtf.Core.Testing.Fuzzing;
using Xtf.Tests.Runner;

namespace Xtf.Tests.Fuzzing;

/// <summary>Issue 16, the fuzz command: seeded campaigns find nothing, a finding is reported with its reproducer, bad input is one error line.</summary>
[TestFixture]
public sealed class FuzzTests
{
    /// <summary>Bare-CPU modes with a small budget, many seeds; engine modes with fewer. No host exception, no hang.</summary>
    [TestCase("bytes", 1000)]
    [TestCase("insns", 1000)]
    [TestCase("hvm", 60)]
    [TestCase("pv", 60)]
    [CancelAfter(120_000)]
    public void SeededCampaignFindsNothing(string mode, int count)
    {
        var loop = new FuzzLoop { Budget = 2_000, Jobs = Environment.ProcessorCount, HangBound = TimeSpan.FromSeconds(30) };
        var report = loop.Run(FuzzModes.Find(mode)!, 16, count);
        Assert.That(report.Findings.Select(f => $"{f.Kind} {f.Detail} | {f.Reproducer}"), Is.Empty);
        Assert.That(report.Iterations, Is.EqualTo(count));
    }

    /// <summary>
    /// Seeds a 2000-iteration campaign found (hvm32pse): the guest's random code broke its own
    /// paging, a gate's C# access faulted, and the panic's printk to the PV console ring faulted
    /// again, escaping as a host exception. The contract (DESIGN.md section 2): a CRASH.
    /// </summary>
    [TestCase(9564406529623105721UL)]
    [TestCase(14245508042312233009UL)]
    public void APanicWhoseOwnConsoleWriteFaultsIsACrash(ulong seed)
    {
        var loop = new FuzzLoop { Budget = 20_000, Jobs = 1, HangBound = TimeSpan.FromSeconds(30) };
        var report = loop.Run(FuzzModes.Find("hvm")!, seed, 1);
        Assert.That(report.Findings.Select(f => $"{f.Kind} {f.Detail}"), Is.Empty);
    }

    /// <summary>
    /// A seed of the 50,000-iteration pv campaign (seed 20261207): a random hypercall left the pv64
    /// guest in user mode, and the next exec_user, a kernel function, threw in the runtime (a host
    /// exception). XTF's exec_user would fault in user mode: the domain crashes, a CRASH with the reason.
    /// </summary>
    [Test]
    public void ExecUserFromUserModeLeftByTheGuestIsACrash()
    {
        var loop = new FuzzLoop { Budget = 20_000, Jobs = 1, HangBound = TimeSpan.FromSeconds(30) };
        var report = loop.Run(FuzzModes.Find("pv")!, 6526111203317532132UL, 1);
        Assert.That(report.Findings.Select(f => $"{f.Kind} {f.Detail}"), Is.Empty);
        Assert.That(report.Outcomes.Keys, Is.EqualTo(new[] { "CRASH" }));
    }

    /// <summary>A throwing iteration is a host-exception finding whose reproducer names the iteration's seed; seeds follow the SplitMix64 chain from the base.</summary>
    [Test]
    public void AThrowingIterationIsAFindingWithItsSeed()
    {
        var seen = new List<ulong>();
        var mode = new FuzzMode("test", "throws on its third seed", (seed, _) =>
        {
            lock (seen)
                seen.Add(seed);
            return seed == FuzzSeeds.Next(FuzzSeeds.Next(5)) ? throw new InvalidOperationException("boom") : "ok: fine";
        });
        var report = new FuzzLoop { Jobs = 1 }.Run(mode, 5, 4);
        ulong third = FuzzSeeds.Next(FuzzSeeds.Next(5));
        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(new[] { 5ul, FuzzSeeds.Next(5), third, FuzzSeeds.Next(third) }));
            Assert.That(report.HostExceptions, Is.EqualTo(1));
            Assert.That(report.Findings[0].Detail, Does.StartWith("InvalidOperationException: boom"));
            Assert.That(report.Findings[0].Reproducer, Is.EqualTo($"xtf-runner fuzz --mode test --seed {third} --count 1"));
        });
    }

    /// <summary>--from I --count N runs exactly iterations I to I+N-1 of the campaign: slices add up to one long run.</summary>
    [Test]
    public void ASliceRunsTheCampaignsIterationsFromItsFirst()
    {
        var seen = new List<ulong>();
        var mode = new FuzzMode("test", "records its seeds", (seed, _) =>
        {
            lock (seen)
                seen.Add(seed);
            return "ok: fine";
        });
        var output = new StringWriter();
        int exit = new Xtf.Runner.FuzzCommand(output, output).Run(new FuzzLoop { Jobs = 1 }, [mode], 5, 2, first: 2);
        ulong second = FuzzSeeds.Next(FuzzSeeds.Next(5));
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero);
            Assert.That(seen, Is.EqualTo(new[] { second, FuzzSeeds.Next(second) }));
            Assert.That(FuzzSeeds.At(5, 3), Is.EqualTo(FuzzSeeds.Next(second)));
            Assert.That(output.ToString(), Does.StartWith("fuzz: seed 5, 2 iterations per mode (iterations 2 to 3), "));
        });
    }

    /// <summary>A process whose peak resident memory passes --rss-limit-mib is a memory finding (exit 2); this process has used more than 1 MiB.</summary>
    [Test]
    public void MemoryPastTheLimitIsAFinding()
    {
        var mode = new FuzzMode("test", "does nothing", (_, _) => "ok: fine");
        var output = new StringWriter();
        int exit = new Xtf.Runner.FuzzCommand(output, output).Run(new FuzzLoop { Jobs = 1 }, [mode], 1, 1, rssLimitMib: 1);
        Assert.That(exit, Is.EqualTo(Xtf.Runner.FuzzCommand.FindingsExitCode));
        Assert.That(output.ToString(), Does.Contain("FINDING test: memory: peak RSS "));
    }

    /// <summary>An iteration past the host-time bound is a hang finding, and the loop still ends.</summary>
    [Test]
    [CancelAfter(30_000)]
    public void ASlowIterationIsAHang()
    {
        var mode = new FuzzMode("slow", "sleeps", (_, _) =>
        {
            Thread.Sleep(1500);
            return "ok: slept";
        });
        var report = new FuzzLoop { Jobs = 1, HangBound = TimeSpan.FromMilliseconds(200) }.Run(mode, 1, 1);
        Assert.That(report.Hangs, Is.EqualTo(1));
    }

    [Test]
    public void TheCommandReportsEachModeAndExitsZero()
    {
        var run = RunnerHarness.Run("fuzz", "--seed", "3", "--count", "5", "--mode", "bytes", "--mode", "pv", "-j", "1");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.Stdout + run.Stderr);
            Assert.That(run.StdoutLines, Has.Some.Match("^bytes: 5 iterations, 0 host exceptions, 0 hangs, "));
            Assert.That(run.StdoutLines, Has.Some.Match("^pv: 5 iterations, 0 host exceptions, 0 hangs, "));
            Assert.That(run.StdoutLines[^1], Is.EqualTo("no findings"));
        });
    }

    [TestCase("--count", "0")]
    [TestCase("--count", "x")]
    [TestCase("--count", "-3")]
    [TestCase("--seed", "abc")]
    [TestCase("--from", "-1")]
    [TestCase("--from", "x")]
    [TestCase("--mode", "nosuch")]
    [TestCase("--budget", "0")]
    [TestCase("--rss-limit-mib", "0")]
    [TestCase("-j", "0")]
    [TestCase("--bogus")]
    public void BadFuzzArgumentsAreOneErrorLine(params string[] args)
    {
        var run = RunnerHarness.Run(["fuzz", .. args]);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1).And.All.StartWith("Error: "));
        });
    }
}
