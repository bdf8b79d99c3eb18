using NUnit.Framework;
using Xtf.Core.Testing.Conformance;

namespace Xtf.Tests.Conformance;

/// <summary>
/// The SingleStepTests 80286 real-mode sample in ../shared/conformance/80286/v1_real_mode (beside
/// the repository root, the directory holding Xtf.slnx): at least 99.5% pass (exactly or under a
/// documented 286 mask) and no test raises a host exception.
/// </summary>
[TestFixture]
public sealed class SampleConformanceTests
{
    [Test(Description = "80286 real-mode sample: >= 99.5% pass (masked differences listed with their reasons), no host exception")]
    public void RealModeSample()
    {
        string? sample = LocateSample();
        if (sample is null)
            Assert.Ignore("../shared/conformance/80286/v1_real_mode is not beside the repository root");

        var inputs = new ConformanceInputs();
        int passed = 0, failed = 0, masked = 0, hostExceptions = 0;
        var failures = new List<string>();
        foreach (string path in ConformanceInputs.ExpandPaths([sample!]))
        {
            var (metadata, revocations) = inputs.For(path);
            var result = new ConformanceRunner(metadata, revocations).RunFile(path, MooReader.ReadFile(path));
            passed += result.Passed;
            failed += result.Failed;
            masked += result.Masked;
            hostExceptions += result.HostExceptions;
            failures.AddRange(result.Failures.Select(f => $"{Path.GetFileName(path)} {f.Describe()}"));
        }

        int total = passed + failed + masked;
        double rate = (double)(passed + masked) / total;
        TestContext.Out.WriteLine($"{passed} passed, {failed} failed, {masked} masked ({rate:P3})");
        foreach (string f in failures.Take(50))
            TestContext.Out.WriteLine(f);
        Assert.That(hostExceptions, Is.Zero, "host exceptions");
        Assert.That(rate, Is.GreaterThanOrEqualTo(0.995));
    }

    private static string? LocateSample()
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Xtf.slnx")))
            {
                string sample = Path.Combine(d.FullName, "..", "shared", "conformance", "80286", "v1_real_mode");
                return Directory.Exists(sample) ? Path.GetFullPath(sample) : null;
            }
        }

        return null;
    }
}
