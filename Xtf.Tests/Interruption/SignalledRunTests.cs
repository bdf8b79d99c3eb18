using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.TestCases;
using Xtf.Tests.Runner;

namespace Xtf.Tests.Interruption;

/// <summary>
/// Issue 16: "Ctrl-C during <c>--all --junit J --json R</c> leaves parseable J and R and a table on
/// stdout", driven with a real signal. The built xtf-runner runs as a child process; once its first
/// instance has printed <c>Test result:</c> it gets kill(2). What it must then do is the README's
/// contract (Exit codes, the 130/143 row): no new instance starts, the partial table is printed with
/// <c>Interrupted by SIG...: N of M instances ran, K did not</c>, <c>--junit</c>/<c>--json</c> are
/// valid and marked incomplete (JUnit properties <c>incomplete</c>, <c>interrupted_by</c>, <c>not_run</c>;
/// JSON <c>incomplete</c>, <c>interrupted_by</c>, <c>instances_run</c>, <c>instances_not_run</c>),
/// and the exit code is 128 + the signal number, as POSIX shells report a signalled process.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SignalledRunTests
{
    /// <summary>Rounds of the selection: minutes of work, so the run is still going when the signal comes.</summary>
    private const int Rounds = 100;

    /// <summary>Bound on the child's start up to its first result (a cold start on a loaded 2-core machine).</summary>
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(15);

    /// <summary>Bound on its end after the signal: the 2 s grace (README) and writing the reports, with room to spare.</summary>
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(10);

    /// <summary>The run's selection, as the runner's own composition root builds it (Program.cs): <c>--all</c>.</summary>
    private static readonly IReadOnlyList<TestInstance> All = AllSelection();

    // POSIX signal numbers (SIGINT 2, SIGTERM 15); exit codes from README, Exit codes: 130 and 143 = 128 + signo.
    [TestCase(2, "SIGINT", 130)]
    [TestCase(15, "SIGTERM", 143)]
    public void ASignalledRunLeavesATableAndIncompleteReports(int signo, string name, int exitCode)
    {
        if (!DotnetProcess.CanSignal())
            Assert.Ignore("no POSIX kill(2) here (Windows, or no libc): a real signal cannot be sent");
        string dir = Path.Combine(Path.GetTempPath(), $"xtf-signal-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string junit = Path.Combine(dir, "j.xml"), json = Path.Combine(dir, "r.json");
            string[] args = [RunnerProcessTests.RunnerDll(), "--all", "-j1", "--repeat", $"{Rounds}", "--junit", junit, "--json", json];
            using var child = DotnetProcess.Start(args);
            if (SignalIgnored(child.Id, signo))
                Assert.Ignore($"{name} is ignored in the child, inherited from how these tests were started (a shell's background job): the runner rightly leaves it ignored");
            Assert.That(child.WaitForStdout("Test result:", StartLimit), Is.True, $"no instance finished within {StartLimit}");

            child.Signal(signo);
            var clock = Stopwatch.StartNew();
            var run = child.Finish(ExitLimit);
            TestContext.Out.WriteLine($"{name}: exit {run.ExitCode} {clock.Elapsed.TotalSeconds:0.00} s after the signal");

            // The exit code alone proves little: a child the signal killed outright is reported 128 + signo too.
            // The table and the two reports are what show that the runner caught the signal and ended the run itself.
            Assert.That(run.ExitCode, Is.EqualTo(exitCode), run.Stderr);
            Assert.That(new[] { junit, json }, Has.All.Exist, "both reports written");
            CheckReportsAndTable(run, name, junit, json);
            Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "j.xml", "r.json" }), "no temporary report left beside them");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void CheckReportsAndTable(DotnetProcess.Output run, string name, string junit, string json)
    {
        int planned = All.Count * Rounds;
        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        var root = report.RootElement;
        int ran = root.GetProperty("instances_run").GetInt32(), notRun = root.GetProperty("instances_not_run").GetInt32();
        string[] ids = [.. root.GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];
        TestContext.Out.WriteLine($"{name}: instances_run {ran}, instances_not_run {notRun}");
        var suite = XDocument.Load(junit).Root!.Element("testsuite")!;
        string? Property(string key) => suite.Element("properties")?.Elements("property").SingleOrDefault(p => (string?)p.Attribute("name") == key)?.Attribute("value")?.Value;

        // The table: its header, then one row per instance that ran (a prefix of the selection; round 1 first), then the Interrupted line.
        string[] lines = run.Stdout.Split('\n');
        int header = Array.LastIndexOf(lines, "Combined test results:");
        string[] rows = [.. lines.Skip(header + 1).TakeWhile(l => l.Length > 0 && !l.StartsWith("Interrupted by ", StringComparison.Ordinal))];
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("incomplete").GetBoolean(), Is.True);
            Assert.That(root.GetProperty("interrupted_by").GetString(), Is.EqualTo(name));
            Assert.That(ran + notRun, Is.EqualTo(planned), "every planned instance either ran or did not");
            Assert.That(ran, Is.InRange(1, planned - 1), "the signal came after the first result and before the end");
            Assert.That(ids, Is.EqualTo(Enumerable.Range(0, ran).Select(k => All[k % All.Count].Id)), "what ran is the selection's prefix, round after round");

            Assert.That(Property("incomplete"), Is.EqualTo("true"));
            Assert.That(Property("interrupted_by"), Is.EqualTo(name));
            Assert.That(Property("not_run"), Is.EqualTo(notRun.ToString(CultureInfo.InvariantCulture)));
            Assert.That((int?)suite.Attribute("tests"), Is.EqualTo(ran));
            Assert.That(suite.Elements("testcase").Count(), Is.EqualTo(ran));

            Assert.That(header, Is.GreaterThanOrEqualTo(0), "the table's header is on stdout");
            Assert.That(rows.Select(r => r.Split(' ')[0]), Is.EqualTo(ids.Take(All.Count)), "one row per instance that ran");
            Assert.That(rows, Has.All.Match(@"^test-\S+ +(SUCCESS|SKIP|ERROR|FAILURE|CRASH)\b"));
            Assert.That(run.Stdout, Does.EndWith($"\nInterrupted by {name}: {ran} of {planned} instances ran, {notRun} did not\n"));
            Assert.That(run.Stderr, Does.Contain($"xtf-runner: {name}: no new instance starts"));
        });
    }

    /// <summary>
    /// Whether <paramref name="signo"/> is ignored in process <paramref name="pid"/> (Linux: the SigIgn mask in /proc). A shell without
    /// job control starts a background job with SIGINT ignored; the child inherits that, and the runtime keeps it ignored.
    /// </summary>
    private static bool SignalIgnored(int pid, int signo)
    {
        string status = $"/proc/{pid}/status";
        if (!OperatingSystem.IsLinux() || !File.Exists(status))
            return false;
        string? mask = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return mask is not null && (ulong.Parse(mask["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << (signo - 1))) != 0;
    }

    private static TestInstance[] AllSelection()
    {
        using var services = new ServiceCollection().AddXtf(typeof(TestCasesAssembly).Assembly).BuildServiceProvider();
        return [.. Selection.Interpret(services.GetRequiredService<TestCatalog>(), [], all: true)];
    }
}
