using System.Diagnostics;
using NUnit.Framework;

namespace Xtf.Tests.Matrix;

/// <summary>
/// End to end through VSTest: <c>dotnet test --list-tests --settings xtf.runsettings --
/// TestRunParameters.Parameter(name="...", value="...")</c> on this very assembly lists the matrix
/// those parameters ask for, which shows that NUnit hands the parameters (command-line overrides
/// of the runsettings file included) to the case source at discovery.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DotnetTestParametersTests
{
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(180);

    [Test]
    public void CommandLineParametersChangeTheDiscoveredCases()
    {
        var (exit, output) = ListTests(
            "TestRunParameters.Parameter(name=\"environments\", value=\"pv64\")",
            "TestRunParameters.Parameter(name=\"categories\", value=\"xsa\")");
        var lines = output.Split('\n').Select(l => l.Trim()).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, output);

            // xsa-213 is the one xsa test with a pv64 instance. (Other fixtures name cases after
            // the guarded instances too, so only what is the matrix's alone is compared.)
            Assert.That(lines.Where(l => l.EndsWith(" without FEP", StringComparison.Ordinal)), Is.EqualTo(new[] { "test-pv64-xsa-213 without FEP" }), output);
            Assert.That(lines, Does.Contain("test-pv64-xsa-213"), output);

            // In the default matrix, but not both xsa and pv64.
            Assert.That(lines, Does.Not.Contain("test-hvm32-example").And.Not.Contain("test-pv64-example").And.Not.Contain("test-pv64-pv-iopl~hypercall"), output);
        });
    }

    private static (int Exit, string Output) ListTests(params string[] parameters)
    {
        string assembly = typeof(DotnetTestParametersTests).Assembly.Location;
        string settings = Path.Combine(RepositoryRoot.Find() ?? throw new InvalidOperationException("no xtf.runsettings above the tests"), "xtf.runsettings");
        var run = DotnetProcess.Run(["test", assembly, "--list-tests", "--settings", settings, "--", .. parameters], ProcessLimit);
        return (run.ExitCode, run.Stdout + run.Stderr);
    }
}
