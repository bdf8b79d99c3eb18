using System.Diagnostics;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Runner;
using Xtf.Tests.Guests;
using Xtf.Tests.Runner;

namespace Xtf.Tests.Robustness;

/// <summary>
/// Issue 16 item 5: the test's own C# never returning (<c>while (true) {}</c> in Main) hung the
/// runner, even with <c>--timeout</c> (which the vCPU loop checks, and the loop never gets control
/// back), and <c>dotnet test</c>. Now the instance is a CRASH naming it after the watchdog's limit,
/// and the next instance of the run still runs. Each test waits for the engine on a task of its
/// own with a bound, so without the watchdog it fails instead of hanging.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class WatchdogTests
{
    /// <summary>How long a test waits for a run that the 2 s watchdog must end: the limit and generous slack for a loaded CI machine.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static readonly RunSettings TwoSeconds = new() { Watchdog = TimeSpan.FromSeconds(2), InstructionBudget = 5_000_000 };

    /// <summary>Set at the end of the fixture, so the abandoned threads stop spinning and leave the rest of the suite its cores.</summary>
    private static bool released;

    /// <summary>The issue's reproducer, as far as the watchdog can tell: Main never returns while this fixture runs.</summary>
    [XtfTest("watchdog-1-spin", Category.Special, Environments.Hvm32, Title = "Spins in C#")]
    public sealed class SpinningGuest : TestCase
    {
        public override void Main()
        {
            Printk("spinning from here\n");
            while (!Volatile.Read(ref released))
            {
            }
        }
    }

    /// <summary>The instance after it, which must still run and pass.</summary>
    [XtfTest("watchdog-2-after", Category.Special, Environments.Hvm32, Title = "Runs after the spinner")]
    public sealed class AfterGuest : TestCase
    {
        public override void Main() => Success();
    }

    [OneTimeTearDown]
    public void ReleaseSpinners() => Volatile.Write(ref released, true);

    [Test]
    public void SpinningMainIsACrashNamingTheTestAndTheNextInstanceSucceeds()
    {
        var clock = Stopwatch.StartNew();
        var spin = Bounded(() => GuestHarness.Run<SpinningGuest>(settings: TwoSeconds));
        var taken = clock.Elapsed;
        var after = Bounded(() => GuestHarness.Run<AfterGuest>(settings: TwoSeconds));
        Assert.Multiple(() =>
        {
            Assert.That(spin.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(spin.Diagnostic, Is.EqualTo("watchdog: test-hvm32-spinningguest did not return within 2 s (the test's C# or the runtime never gave control back; its thread is abandoned)"));
            Assert.That(taken, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(2)).And.LessThan(Bound));
            Assert.That(spin.Lines, Has.Member("--- Xen Test Framework ---"), "the banner printed before Main");
            Assert.That(spin.Lines, Has.Member("spinning from here"), "what the guest printed before its C# hung");
            Assert.That(after.Result, Is.EqualTo(TestResult.Success));
        });
    }

    /// <summary>--timeout is the guest's limit and must get its chance first: the watchdog waits at least the timeout plus 10 s.</summary>
    [Test]
    public void WatchdogNeverFiresBeforeTheTimeoutPlusItsMargin()
    {
        // Watchdog 1 s alone would end the x86 spin loop at 1 s; the limit is 3 + 10 s, so the timeout does at 3 s.
        var settings = new RunSettings { Watchdog = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromSeconds(3) };
        var o = Bounded(() => GuestHarness.Run<CrashGuestTests.LoopForeverGuest>(budget: long.MaxValue, settings: settings));
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Is.EqualTo("timeout of 3 s exceeded"));
        });
    }

    [Test]
    public void LimitIsTheSettingRaisedToTheTimeoutPlusTenSeconds()
    {
        Assert.Multiple(() =>
        {
            Assert.That(InstanceWatchdog.LimitOf(new RunSettings()), Is.EqualTo(TimeSpan.FromSeconds(60)));
            Assert.That(InstanceWatchdog.LimitOf(new RunSettings { Timeout = TimeSpan.FromSeconds(55) }), Is.EqualTo(TimeSpan.FromSeconds(65)));
            Assert.That(InstanceWatchdog.LimitOf(new RunSettings { Timeout = TimeSpan.FromSeconds(5) }), Is.EqualTo(TimeSpan.FromSeconds(60)));
            Assert.That(InstanceWatchdog.LimitOf(TwoSeconds with { Timeout = TimeSpan.FromSeconds(1) }), Is.EqualTo(TimeSpan.FromSeconds(11)));
        });
    }

    /// <summary>An exception from the body still reaches the caller (MatrixRun makes it a CRASH), with the body's stack trace.</summary>
    [Test]
    public void BodyExceptionIsRethrownOnTheCallersThread()
    {
        var instance = new TestInstance(new TestDescriptor("x", Category.Special, Environments.Hvm32, "x", [], typeof(AfterGuest)), Environments.Hvm32, null);
        var e = Assert.Throws<InvalidOperationException>(() => InstanceWatchdog.Run(instance, TimeSpan.FromSeconds(10), ThrowFromBody));
        Assert.That(e!.StackTrace, Does.Contain(nameof(ThrowFromBody)));
    }

    /// <summary>Through the runner: <c>--watchdog 2</c>, the spinner's CRASH line, the next instance's SUCCESS row, exit code 6.</summary>
    [TestCase("1")]
    [TestCase("2")]
    public void RunnerReportsTheSpinnerAsCrashAndRunsOn(string jobs)
    {
        var catalog = TestCatalog.FromTypes(typeof(SpinningGuest), typeof(AfterGuest));
        var run = Bounded(() => RunnerHarness.Run(catalog, new TestEngine(), false, "watchdog-1-spin", "watchdog-2-after", "--watchdog", "2", "-j", jobs));
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(6));
            Assert.That(run.StdoutLines, Does.Contain("watchdog: test-hvm32-watchdog-1-spin did not return within 2 s (the test's C# or the runtime never gave control back; its thread is abandoned)"));
            Assert.That(run.StdoutLines, Does.Contain($"{"test-hvm32-watchdog-1-spin",-40} CRASH"));
            Assert.That(run.StdoutLines, Does.Contain($"{"test-hvm32-watchdog-2-after",-40} SUCCESS"));
            Assert.That(run.Stderr, Is.Empty);
        });
    }

    [TestCase("0", "Error: --watchdog must be a positive number of seconds, not 0")]
    [TestCase("-3", "Error: --watchdog must be a positive number of seconds, not -3")]
    [TestCase("NaN", "Error: --watchdog must be a positive number of seconds, not NaN")]
    [TestCase("1e300", "Error: --watchdog must be a positive number of seconds, not 1E+300")]
    public void BadWatchdogIsOneErrorLine(string value, string expected)
    {
        var run = RunnerHarness.Run("example", "--watchdog", value);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(RunnerApp.RunnerErrorExitCode));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { expected }));
            Assert.That(run.Stdout, Is.Empty);
        });
    }

    [Test]
    public void UnparsableWatchdogIsOneErrorLine()
    {
        var run = RunnerHarness.Run("example", "--watchdog", "soon");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(RunnerApp.RunnerErrorExitCode));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.StderrLines[0], Does.StartWith("Error: ").And.Contain("soon"));
        });
    }

    private static InstanceOutcome ThrowFromBody() => throw new InvalidOperationException("from the body");

    private static T Bounded<T>(Func<T> run)
    {
        var task = Task.Factory.StartNew(run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.That(task.Wait(Bound), Is.True, $"the run did not end within {Bound.TotalSeconds} s");
        return task.Result;
    }
}
