using System.Text.RegularExpressions;
using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Matrix;

/// <summary>
/// The nightly matrix's files stay true to the catalog: every quirk has an expectations file in
/// which every instance guarding it must FAIL (its Guards, DESIGN.md section 6) and any other
/// listed result is a known interaction explained by a comment; the workflow runs every quirk
/// set and every shard.
/// </summary>
[TestFixture]
public sealed partial class NightlyFilesTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.Example.Example).Assembly]);

    private static string Repo => RepositoryRoot.Find() ?? throw new InvalidOperationException($"no xtf.runsettings above {AppContext.BaseDirectory}");

    private static IEnumerable<string> QuirkNames() => Quirks.Names;

    [TestCaseSource(nameof(QuirkNames))]
    public void EveryQuirkHasAnExpectationsFileWhereItsGuardsFail(string quirk)
    {
        string path = Path.Combine(Repo, ".ci", "nightly", "expect", quirk + ".expect");
        Assert.That(File.Exists(path), Is.True, path);
        string[] lines = File.ReadAllLines(path);
        var expected = Expectations.Parse(File.ReadAllText(path), Catalog);
        Quirks.TryParse(quirk, out var q);
        var guards = Catalog.Tests.Where(t => t.Guards.Contains(q)).SelectMany(t => t.Instances()).Select(i => i.Id).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(guards, Is.Not.Empty);
            foreach (var instance in Catalog.AllInstances())
            {
                var result = expected.Listed(instance);
                if (guards.Contains(instance.Id))
                {
                    Assert.That(result, Is.EqualTo(TestResult.Failure), $"{instance.Id} guards {quirk}");
                    continue;
                }

                if (result is null)
                    continue;
                string id = instance.Id;
                int line = Array.FindIndex(lines, l => l.TrimStart().StartsWith(id + " ", StringComparison.Ordinal) || l.TrimStart().StartsWith(id + "\t", StringComparison.Ordinal));
                Assert.That(line > 0 && lines[line - 1].TrimStart().StartsWith('#'), Is.True,
                    $"{path}: {id} {result} does not guard {quirk}: a comment line before it must say why it is known");
            }
        });
    }

    [Test]
    public void ExpectationsFilesAreForQuirksOnly() =>
        Assert.That(Directory.GetFiles(Path.Combine(Repo, ".ci", "nightly", "expect")).Select(Path.GetFileName),
            Is.EquivalentTo(Quirks.Names.Select(n => n + ".expect")));

    [Test]
    public void TheWorkflowRunsEveryQuirkSetOnTheDebugXenAndEveryShard()
    {
        string yml = File.ReadAllText(Path.Combine(Repo, ".github", "workflows", "nightly.yml"));
        string quirkAxis = QuirkAxis().Match(yml).Groups[1].Value;
        var listed = ListItem().Matches(quirkAxis).Select(m => m.Groups[1].Value);
        var excluded = Exclude().Matches(yml).Select(m => m.Groups[1].Value);
        var shards = ShardAxis().Match(yml);
        Assert.Multiple(() =>
        {
            Assert.That(listed, Is.EqualTo(Quirks.Names.Prepend("none")));
            Assert.That(excluded, Is.EquivalentTo(Quirks.Names));
            Assert.That(shards.Success, Is.True, "no `shard: [...]` and `of: [N]` axes");
            int n = int.Parse(shards.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(shards.Groups[1].Value.Split(',').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)), Is.EqualTo(Enumerable.Range(1, n)));
        });
    }

    /// <summary>The fuzz job runs every fuzz mode, and its slices (--from K*100000, --count 100000) cover iterations 0..999,999 once each.</summary>
    [Test]
    public void TheFuzzJobRunsAMillionIterationsOfEveryMode()
    {
        string yml = File.ReadAllText(Path.Combine(Repo, ".github", "workflows", "nightly.yml"));
        var modes = Regex.Match(yml, @"\n\s+mode: \[([a-z, ]+)\]");
        var slices = Regex.Match(yml, @"\n\s+slice: \[([0-9, ]+)\]");
        Assert.Multiple(() =>
        {
            Assert.That(modes.Success && slices.Success, Is.True, "no `mode: [...]` and `slice: [...]` axes");
            Assert.That(modes.Groups[1].Value.Split(", "), Is.EqualTo(Xtf.Core.Testing.Fuzzing.FuzzModes.All.Select(m => m.Name)));
            Assert.That(slices.Groups[1].Value.Split(", ").Select(int.Parse), Is.EqualTo(Enumerable.Range(0, 10)));
            Assert.That(yml, Does.Contain("--from $(( ${{ matrix.slice }} * 100000 )) --count 100000"));
        });
    }

    [GeneratedRegex(@"\n\s+quirk:\s*\n((?:\s+- [^\n]+\n)+)")]
    private static partial Regex QuirkAxis();

    [GeneratedRegex(@"- ([a-z0-9-]+)\s*\n")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"\{ variation: fep-off, quirk: ([a-z0-9-]+) \}")]
    private static partial Regex Exclude();

    [GeneratedRegex(@"\n\s+shard: \[([0-9, ]+)\]\s*\n\s+of: \[([0-9]+)\]")]
    private static partial Regex ShardAxis();
}
