using NUnit.Framework;
using Xtf.Core.Testing;

namespace Xtf.Tests.Runner;

/// <summary>
/// <c>--shard K/N</c>: the shards of a selection are disjoint, together equal the unsharded
/// selection, differ in size by at most one, and a malformed shard is one error line, exit 1.
/// </summary>
[TestFixture]
public sealed class ShardTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.Example.Example).Assembly]);

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(7)]
    public void ShardsOfTheDefaultMatrixPartitionIt(int n)
    {
        var all = Selection.Interpret(Catalog, [], all: true);
        var shards = Enumerable.Range(1, n).Select(k => new Shard(k, n).Of(all)).ToList();
        var ids = shards.SelectMany(s => s.Select(i => i.Id)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(ids, Is.Unique, "shards overlap");
            Assert.That(ids.Order(StringComparer.Ordinal), Is.EqualTo(all.Select(i => i.Id).Order(StringComparer.Ordinal)));
            Assert.That(shards.Max(s => s.Count) - shards.Min(s => s.Count), Is.LessThanOrEqualTo(1));
        });
    }

    /// <summary>The documented rule: instance i of the selection, in its order, is in shard (i mod N) + 1.</summary>
    [Test]
    public void InstanceIGoesToShardIModNPlusOne()
    {
        var all = Selection.Interpret(Catalog, [], all: true);
        var third = new Shard(3, 4).Of(all);
        Assert.That(third.Select(i => i.Id), Is.EqualTo(all.Where((_, i) => i % 4 == 2).Select(i => i.Id)));
        Assert.That(third[0].Id, Is.EqualTo(all[2].Id));
    }

    [Test]
    public void ListingAShardListsItsPart()
    {
        var whole = RunnerHarness.Run("--list", "--all").StdoutLines;
        var first = RunnerHarness.Run("--list", "--all", "--shard", "1/2").StdoutLines;
        var second = RunnerHarness.Run("--list", "--all", "--shard", "2/2").StdoutLines;
        Assert.That(first.Concat(second).Order(StringComparer.Ordinal), Is.EqualTo(whole.Order(StringComparer.Ordinal)));
        Assert.That(first.Intersect(second), Is.Empty);
    }

    [Test]
    public void AnEmptyShardRunsNothingAndSucceeds()
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "test-hvm32-example", "--shard", "2/2");
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(0));
            Assert.That(engine.Runs, Is.Empty);
            Assert.That(run.StdoutLines, Is.EqualTo(new[] { "Shard 2/2 of the selection is empty" }));
        });
    }

    [TestCase("3/2")]
    [TestCase("0/2")]
    [TestCase("1/0")]
    [TestCase("a/b")]
    [TestCase("1")]
    [TestCase("1/2/3")]
    [TestCase("-1/2")]
    public void MalformedShardIsOneErrorLine(string shard)
    {
        var engine = new FakeTestEngine();
        var run = RunnerHarness.Run(engine, "example", "--shard", shard);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StderrLines, Is.EqualTo(new[] { $"Error: Invalid shard '{shard}': expected K/N with 1 <= K <= N" }));
            Assert.That(engine.Runs, Is.Empty);
        });
    }
}
