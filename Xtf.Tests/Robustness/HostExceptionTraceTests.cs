using System.Runtime.CompilerServices;
using System.Text.Json;
using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Tests.Guests;
using Xtf.Tests.Runner;

namespace Xtf.Tests.Robustness;

/// <summary>
/// Issue 16 item 7: a host exception from the test's C# kept only its message, so its author
/// could not find the failing line. The CRASH diagnostic keeps type and message; the full trace
/// goes with the outcome, into the instance's log file (<c>--logs</c> and <c>-m logfile</c>), the
/// JSON report (<c>host_exception</c>), and stderr with <c>-v</c>.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class HostExceptionTraceTests
{
    private const string Diagnostic = "host exception: InvalidOperationException: bug in test code";

    [XtfTest("throws-from-main", Category.Special, Environments.Hvm32, Title = "Throws from a helper of Main")]
    public sealed class ThrowingGuest : TestCase
    {
        public override void Main() => ThrowFromTheTestsHelper();

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void ThrowFromTheTestsHelper() => throw new InvalidOperationException("bug in test code");
    }

    [XtfTest("passes", Category.Special, Environments.Hvm32, Title = "Passes")]
    public sealed class PassingGuest : TestCase
    {
        public override void Main() => Success();
    }

    public sealed class ThrowingConstructorGuest : TestCase
    {
        private readonly int field = ThrowFromAFieldInitialiser();

        public override void Main() => Success();

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static int ThrowFromAFieldInitialiser() => throw new ArgumentException("bad field");

        public override string ToString() => field.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    [Test]
    public void EngineKeepsTypeAndMessageInTheDiagnosticAndTheTraceOnTheOutcome()
    {
        var o = GuestHarness.Run<ThrowingGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Is.EqualTo(Diagnostic));
            Assert.That(o.HostException, Does.StartWith("System.InvalidOperationException: bug in test code"));
            Assert.That(o.HostException, Does.Contain("ThrowFromTheTestsHelper"));
        });
    }

    [Test]
    public void ConstructorExceptionIsACrashWithTheInnerExceptionAndItsTrace()
    {
        var o = GuestHarness.Run<ThrowingConstructorGuest>();
        Assert.Multiple(() =>
        {
            Assert.That(o.Result, Is.EqualTo(TestResult.Crash));
            Assert.That(o.Diagnostic, Is.EqualTo("host exception: ArgumentException: bad field"));
            Assert.That(o.HostException, Does.StartWith("System.ArgumentException: bad field"));
            Assert.That(o.HostException, Does.Contain("ThrowFromAFieldInitialiser"));
        });
    }

    [Test]
    public void NoHostExceptionNoTrace()
    {
        Assert.That(GuestHarness.Run<PassingGuest>().HostException, Is.Null);
    }

    [Test]
    public void RunnerPutsTheTraceInTheJsonAndTheLogsAndOnStderrWithVerbose()
    {
        string root = Path.Combine(Path.GetTempPath(), $"xtf-trace-{Guid.NewGuid():N}");
        try
        {
            string json = Path.Combine(root, "r.json"), logs = Path.Combine(root, "logs");
            Directory.CreateDirectory(root);
            var run = RunnerHarness.Run(Catalog, new TestEngine(), false, "throws-from-main", "passes", "-v", "--json", json, "--logs", logs);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var byId = doc.RootElement.GetProperty("instances").EnumerateArray().ToDictionary(e => e.GetProperty("id").GetString()!);
            var thrower = byId["test-hvm32-throws-from-main"];
            string log = File.ReadAllText(Path.Combine(logs, "test-hvm32-throws-from-main.log"));
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(6));
                Assert.That(run.StdoutLines, Does.Contain(Diagnostic));
                Assert.That(thrower.GetProperty("diagnostic").GetString(), Is.EqualTo(Diagnostic));
                Assert.That(thrower.GetProperty("host_exception").GetString(), Does.StartWith("System.InvalidOperationException: bug in test code").And.Contain("ThrowFromTheTestsHelper"));
                Assert.That(byId["test-hvm32-passes"].TryGetProperty("host_exception", out _), Is.False);

                // The console log as the guest wrote it, then the trace under its header line.
                Assert.That(log, Does.StartWith(thrower.GetProperty("log").GetString() + "xtf-runner: host exception (type, message, stack trace):\nSystem.InvalidOperationException: bug in test code"));
                Assert.That(log, Does.Contain("ThrowFromTheTestsHelper"));
                Assert.That(File.ReadAllText(Path.Combine(logs, "test-hvm32-passes.log")), Does.Not.Contain("host exception"));

                Assert.That(run.StderrLines[0], Is.EqualTo("test-hvm32-throws-from-main: xtf-runner: host exception (type, message, stack trace):"));
                Assert.That(run.StderrLines[1], Is.EqualTo("System.InvalidOperationException: bug in test code"));
                Assert.That(run.Stderr, Does.Contain("ThrowFromTheTestsHelper"));
            });
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>JUnit: the trace is the error element's body (what JUnit readers show as the stack trace); an instance without a host exception has none.</summary>
    [Test]
    public void JUnitCarriesTheTraceInTheErrorElement()
    {
        string root = Path.Combine(Path.GetTempPath(), $"xtf-trace-{Guid.NewGuid():N}");
        try
        {
            string junit = Path.Combine(root, "j.xml");
            Directory.CreateDirectory(root);
            RunnerHarness.Run(Catalog, new TestEngine(), false, "throws-from-main", "passes", "--junit", junit);
            var cases = System.Xml.Linq.XDocument.Load(junit).Descendants("testcase").ToDictionary(c => (string)c.Attribute("name")!);
            var error = cases["test-hvm32-throws-from-main"].Element("error");
            Assert.Multiple(() =>
            {
                Assert.That((string?)error?.Attribute("message"), Is.EqualTo("CRASH: " + Diagnostic));
                Assert.That(error?.Value, Does.StartWith("System.InvalidOperationException: bug in test code").And.Contain("ThrowFromTheTestsHelper"));
                Assert.That(cases["test-hvm32-passes"].Element("error"), Is.Null);
            });
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void WithoutVerboseStderrHasNoTrace()
    {
        var run = RunnerHarness.Run(Catalog, new TestEngine(), false, "throws-from-main", "-q");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(6));
            Assert.That(run.Stderr, Is.Empty);
        });
    }

    /// <summary><c>-m logfile</c>: the trace follows the console output in the instance's file, after the result was read back, so the result is still the log's.</summary>
    [Test]
    public void LogfileModeAppendsTheTraceAfterTheReadBack()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"xtf-trace-logfile-{Guid.NewGuid():N}");
        try
        {
            var run = RunnerHarness.Run(Catalog, new TestEngine(), false, "throws-from-main", "-m", "logfile", "--logfile-dir", dir);
            string file = File.ReadAllText(Path.Combine(dir, "guest-test-hvm32-throws-from-main.log"));
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(6));
                Assert.That(run.StdoutLines, Does.Contain(Diagnostic));
                Assert.That(run.Stdout, Does.Not.Contain("ThrowFromTheTestsHelper"));
                Assert.That(file, Does.Contain("xtf-runner: host exception (type, message, stack trace):\nSystem.InvalidOperationException: bug in test code"));
                Assert.That(file, Does.Contain("ThrowFromTheTestsHelper"));
            });
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    private static TestCatalog Catalog => TestCatalog.FromTypes(typeof(ThrowingGuest), typeof(PassingGuest));
}
