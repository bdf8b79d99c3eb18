using NUnit.Framework;
using Xtf.Core.Testing.Conformance.Native;

namespace Xtf.Tests.Conformance;

/// <summary>
/// The silicon oracle (<see cref="NativeOracle"/>): 3000 snippets per family with fixed seeds, on
/// the host processor and on our CPU. Any disagreement fails the family, except those a
/// <see cref="NativeOracleKnownDifference"/> explains; a family with known differences is then
/// ignored with their names and counts, so they stay visible. Ignored on hosts that cannot referee.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class NativeOracleTests
{
    private const int Count = 3000, Seed = 1;

    private HostProcessor? host;

    [OneTimeSetUp]
    public void MapHost() => host = HostProcessor.TryCreate(out _);

    [OneTimeTearDown]
    public void UnmapHost() => host?.Dispose();

    private static IEnumerable<string> Families => OracleFamilies.All.Select(f => f.Name);

    [TestCaseSource(nameof(Families))]
    public void FamilyAgreesWithTheHost(string name)
    {
        var oracle = Oracle();
        var run = oracle.Run(OracleFamilies.Find(name)!, Seed, Count);
        TestContext.Out.WriteLine($"{name}: {run.Passed} passed, {run.Failed} failed, {run.Masked} masked");
        var known = new Dictionary<string, int>();
        var unknown = new List<OracleDisagreement>();
        foreach (var d in run.Failures)
        {
            if (NativeOracleKnownDifference.All.FirstOrDefault(k => k.Explains(d, oracle, host!)) is { } k)
                known[k.Name] = known.GetValueOrDefault(k.Name) + 1;
            else
                unknown.Add(d);
        }

        foreach (var d in unknown.Take(10))
            TestContext.Out.WriteLine(string.Join(Environment.NewLine, d.Describe()));
        Assert.That(unknown, Is.Empty, $"{unknown.Count} disagreements with the host (first ones printed above)");
        Assert.That(run.Passed + run.Masked + run.Failed, Is.EqualTo(Count));
        if (known.Count > 0)
            Assert.Ignore("known CPU bugs: " + string.Join("; ", known.Select(k => $"{k.Value} x {k.Key}: {NativeOracleKnownDifference.All.First(x => x.Name == k.Key).Reason}")));
    }

    private static IEnumerable<string> KnownDifferences => NativeOracleKnownDifference.All.Select(k => k.Name);

    [TestCaseSource(nameof(KnownDifferences))]
    public void KnownDifferenceStillReproduces(string name)
    {
        var known = NativeOracleKnownDifference.All.First(k => k.Name == name);
        var (disagreement, _) = Oracle().RunOne(SnippetGenerator.Generate(OracleFamilies.Find(known.Family)!, known.Seed));
        Assert.That(disagreement, Is.Not.Null, $"{known.Name} no longer reproduces with seed {known.Seed}: remove it from the list");
        Assert.That(known.Explains(disagreement!, Oracle(), host!), Is.True, () => string.Join(Environment.NewLine, disagreement!.Describe()));
        Assert.Ignore($"{known.Name}: {known.Reason}");
    }

    [Test(Description = "Generated snippets pass the guard: no memory, no stack pointer, no control transfer, DIV/IDIV first")]
    public void SnippetsAreSafeForTheHost()
    {
        foreach (var family in OracleFamilies.All)
        {
            for (int seed = 0; seed < 500; seed++)
                Assert.That(SnippetGuard.Check(SnippetGenerator.Generate(family, seed)), Is.Null, $"{family.Name} seed {seed}");
        }
    }

    [Test(Description = "The same seed gives the same snippet (the --seed S --count 1 reproducer)")]
    public void SeedsReproduce()
    {
        foreach (var family in OracleFamilies.All)
        {
            var a = SnippetGenerator.Generate(family, 42);
            var b = SnippetGenerator.Generate(family, 42);
            Assert.That(b.Bytes, Is.EqualTo(a.Bytes), family.Name);
            Assert.That(b.Initial.Gpr, Is.EqualTo(a.Initial.Gpr), family.Name);
        }
    }

    private NativeOracle Oracle()
    {
        if (host is null)
        {
            HostProcessor.TryCreate(out string? reason)?.Dispose();
            Assert.Ignore($"native oracle unavailable: {reason}");
        }

        return new NativeOracle(host!);
    }
}
