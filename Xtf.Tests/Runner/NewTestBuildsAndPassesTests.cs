using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Runner;

/// <summary>
/// The contract for <c>xtf-runner new</c>: the test case it writes builds and passes as
/// written. Two tests are written (upstream's defaults, and an xsa one in all six environments),
/// compiled the way testcases/ is, put in a catalog and run on the real engine: every instance
/// prints XTF's banner, the title and <c>Test result: SUCCESS</c>. One dotnet build (tens of
/// seconds), so one test.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class NewTestBuildsAndPassesTests
{
    /// <summary>XTF's environment_description strings, the banner's second line.</summary>
    private static readonly Dictionary<string, string> EnvironmentLines = new()
    {
        ["hvm32"] = "HVM 32bit (No paging)",
        ["hvm32pse"] = "HVM 32bit (PSE 2 levels)",
        ["hvm32pae"] = "HVM 32bit (PAE 3 levels)",
        ["hvm64"] = "HVM 64bit (Long mode 4 levels)",
        ["pv32pae"] = "PV 32bit (PAE 3 levels)",
        ["pv64"] = "PV 64bit (Long mode 4 levels)",
    };

    [Test]
    public void TheWrittenTestsBuildAndEveryInstanceSucceeds()
    {
        string core = Path.Combine(AppContext.BaseDirectory, "Xtf.Core.dll");
        var coreWritten = File.GetLastWriteTimeUtc(core);
        using var project = new GeneratedTestProject();

        var plain = RunnerHarness.Run("new", "brand-new", "--dir", project.Testcases);
        var xsa = RunnerHarness.Run("new", "xsa-9999", "--env", "hvm", "--env", "pv", "--dir", project.Testcases);
        Assert.That((plain.ExitCode, xsa.ExitCode), Is.EqualTo((0, 0)), plain.Stderr + xsa.Stderr);

        var (exit, output) = project.Build();
        Assert.That(exit, Is.Zero, output);
        Assert.That(File.GetLastWriteTimeUtc(core), Is.EqualTo(coreWritten), "the repository's build output was touched");

        var catalog = new TestCatalog([project.Load()]);
        Assert.That(catalog.Tests.Select(t => (t.Name, t.Category, t.Environments, t.Title)), Is.EqualTo(new[]
        {
            ("brand-new", Category.Utility, Environments.Hvm32, "Test brand-new"),
            ("xsa-9999", Category.Xsa, Environments.All, "XSA-9999 PoC"),
        }));

        var instances = catalog.AllInstances().ToList();
        Assert.That(instances.Select(i => i.Id), Is.EqualTo(new[]
        {
            "test-hvm32-brand-new",
            "test-hvm32-xsa-9999", "test-hvm32pae-xsa-9999", "test-hvm32pse-xsa-9999", "test-hvm64-xsa-9999",
            "test-pv32pae-xsa-9999", "test-pv64-xsa-9999",
        }));

        var engine = new TestEngine();
        Assert.Multiple(() =>
        {
            foreach (var instance in instances)
            {
                var outcome = engine.Run(instance, new RunSettings { InstructionBudget = 20_000_000 });
                string env = instance.Id.Split('-')[1];
                Assert.That(outcome.Result, Is.EqualTo(TestResult.Success), $"{instance.Id}: {outcome.Diagnostic}\n{outcome.ConsoleLog}");
                Assert.That(outcome.Lines, Is.EqualTo(new[]
                {
                    "--- Xen Test Framework ---",
                    $"Environment: {EnvironmentLines[env]}",
                    instance.Test.Title,
                    "Test result: SUCCESS",
                }), instance.Id);
            }
        });
    }
}
