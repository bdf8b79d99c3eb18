using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.TestCases;

namespace Xtf.Tests.Runner;

/// <summary>
/// The done-when for <c>-j</c>, with the real engine over real tests: the hvm64 and pv64
/// instances of the default matrix, run with <c>-j 2</c> and with <c>-j 1</c>, leave the same
/// per-instance logs byte for byte and print the same stdout.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class JobsRealEngineTests
{
    [Test]
    public void TwoJobsAndOneJobLeaveTheSameLogsByteForByte()
    {
        using var services = new ServiceCollection().AddXtf(typeof(TestCasesAssembly).Assembly).BuildServiceProvider();
        var catalog = services.GetRequiredService<TestCatalog>();
        var engine = services.GetRequiredService<ITestEngine>();
        string root = Path.Combine(Path.GetTempPath(), $"xtf-jobs-{Guid.NewGuid():N}");
        try
        {
            string serialDir = Path.Combine(root, "j1"), parallelDir = Path.Combine(root, "j2");
            var serial = RunnerHarness.Run(catalog, engine, false, "hvm64", "pv64", "-j", "1", "--logs", serialDir);
            var parallel = RunnerHarness.Run(catalog, engine, false, "hvm64", "pv64", "-j", "2", "--logs", parallelDir);

            string[] expectedFiles = [.. Selection.Interpret(catalog, ["hvm64", "pv64"]).Select(i => i.Id + ".log").Order(StringComparer.Ordinal)];
            string[] Files(string dir) => [.. Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];
            Assert.Multiple(() =>
            {
                Assert.That(expectedFiles, Has.Length.GreaterThan(10));
                Assert.That(Files(serialDir), Is.EqualTo(expectedFiles));
                Assert.That(Files(parallelDir), Is.EqualTo(expectedFiles));
                foreach (string file in expectedFiles)
                {
                    byte[] one = File.ReadAllBytes(Path.Combine(serialDir, file));
                    Assert.That(one, Is.Not.Empty, file);
                    Assert.That(File.ReadAllBytes(Path.Combine(parallelDir, file)), Is.EqualTo(one), file);
                }

                Assert.That(parallel.Stdout, Is.EqualTo(serial.Stdout));
                Assert.That(parallel.ExitCode, Is.EqualTo(serial.ExitCode));
                Assert.That(serial.Stdout, Does.Contain("Combined test results:"));
            });
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }
}
