using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.Core.Xen;

namespace Xtf.Tests.Matrix;

/// <summary>
/// Parsing of the matrix's <c>TestRunParameters</c> (the contract in <c>xtf.runsettings</c> and the
/// README's CI recipes): lists, numbers, the hypervisors, and one clear reason per bad value.
/// </summary>
[TestFixture]
public sealed class MatrixParametersTests
{
    private const string Base = "/base";

    private static MatrixParameters Parse(params (string Name, string Value)[] parameters) =>
        MatrixParameters.Parse(parameters.ToDictionary(p => p.Name, p => p.Value), Base);

    [Test]
    public void NoParametersIsTodaysMatrix()
    {
        var p = Parse();
        Assert.Multiple(() =>
        {
            Assert.That(p.DefaultSelection, Is.True);
            Assert.That(p.Fep, Is.EqualTo(new[] { true, false }));
            Assert.That(p.Budget, Is.EqualTo(20_000_000));
            Assert.That(p.Quirks, Is.Empty);
            Assert.That(p.Variations, Is.Null);
            Assert.That(p.Timeout, Is.Null);
            Assert.That(p.LogsDirectory, Is.Null);
            Assert.That(p.Shard, Is.Null);
        });
    }

    [Test]
    public void EmptyValuesAreLeftOut()
    {
        var p = Parse(("selection", ""), ("environments", " "), ("fep", ""), ("budget", ""), ("quirks", ""), ("logs", ""), ("shard", ""));
        Assert.Multiple(() =>
        {
            Assert.That(p.DefaultSelection, Is.True);
            Assert.That(p.Fep, Is.EqualTo(new[] { true, false }));
            Assert.That(p.Budget, Is.EqualTo(MatrixParameters.DefaultBudget));
            Assert.That(p.Quirks, Is.Empty);
            Assert.That(p.LogsDirectory, Is.Null);
            Assert.That(p.Shard, Is.Null);
        });
    }

    [Test]
    public void SelectionThenCategoriesThenEnvironmentsAreTokens()
    {
        var p = Parse(("environments", "hvm64, pv"), ("categories", "xsa\tutility"), ("selection", "example  invlpg~shadow"));
        Assert.That(p.Selection, Is.EqualTo(new[] { "example", "invlpg~shadow", "xsa", "utility", "hvm64", "pv" }));
    }

    [TestCase("on", new[] { true })]
    [TestCase("off", new[] { false })]
    [TestCase("off,on", new[] { false, true })]
    [TestCase("on on", new[] { true })]
    public void FepNamesTheHypervisors(string value, bool[] expected) =>
        Assert.That(Parse(("fep", value)).Fep, Is.EqualTo(expected));

    [Test]
    public void NumbersQuirksShardAndLogs()
    {
        var p = Parse(("budget", "5000"), ("timeout", "2.5"), ("watchdog", "90"), ("quirks", "xsa-106,XSA-123"), ("shard", "2/3"), ("logs", "out/logs"), ("variations", "hypercall"));
        Assert.Multiple(() =>
        {
            Assert.That(p.Budget, Is.EqualTo(5000));
            Assert.That(p.Timeout, Is.EqualTo(TimeSpan.FromSeconds(2.5)));
            Assert.That(p.Watchdog, Is.EqualTo(TimeSpan.FromSeconds(90)));
            Assert.That(p.Quirks, Is.EquivalentTo(new[] { Quirk.Xsa106, Quirk.Xsa123 }));
            Assert.That(p.Shard, Is.EqualTo(new Shard(2, 3)));
            Assert.That(p.LogsDirectory, Is.EqualTo(Path.GetFullPath("out/logs", Base)));
            Assert.That(p.Variations, Is.EquivalentTo(new[] { "hypercall" }));
        });
    }

    [TestCase("environments", "hvm65", "unknown environment 'hvm65'")]
    [TestCase("categories", "functional,xsas", "unknown category 'xsas'")]
    [TestCase("quirks", "xsa-999", "unknown quirk 'xsa-999'")]
    [TestCase("fep", "maybe", "'maybe' is not 'on' or 'off'")]
    [TestCase("fep", ",", "names no hypervisor")]
    [TestCase("budget", "0", "'0' is not a positive number of instructions")]
    [TestCase("budget", "-5", "'-5' is not a positive number of instructions")]
    [TestCase("budget", "lots", "'lots' is not a positive number of instructions")]
    [TestCase("timeout", "0", "'0' is not a positive number of seconds")]
    [TestCase("timeout", "1e999", "'1e999' is not a positive number of seconds")]
    [TestCase("watchdog", "0", "'0' is not a positive number of seconds")]
    [TestCase("watchdog", "never", "'never' is not a positive number of seconds")]
    [TestCase("shard", "3/2", "Invalid shard '3/2': expected K/N with 1 <= K <= N")]
    [TestCase("expect", "/no/such/file.expect", "cannot read '/no/such/file.expect'")]
    [TestCase("environment", "hvm64", "unknown parameter (known: selection, environments, categories, variations, quirks, expect, fep, budget, timeout, watchdog, logs, shard, xtfdir)")]
    public void BadValueNamesItsParameter(string name, string value, string reason)
    {
        var e = Assert.Throws<MatrixParameterException>(() => Parse((name, value)))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Parameter, Is.EqualTo(name));
            Assert.That(e.Message, Does.Contain(reason));
            Assert.That(e.Message, Does.Not.Contain("\n"));
        });
    }
}
