using NUnit.Framework;
using Xtf.Core.Xen.Toolstack;

namespace Xtf.Tests.Toolstack;

/// <summary>DomainConfig.Parse: the xl.cfg(5) grammar (libxlu_cfg_y.y / libxlu_cfg_l.l): strings in either quote, numbers, lists, comments, ';'.</summary>
[TestFixture]
public sealed class DomainConfigTests
{
    [Test]
    public void StringsInBothQuotes()
    {
        var c = DomainConfig.Parse("name = \"test-hvm64-example\"\ntype='hvm'\nempty = \"\"\nesc = \"a\\\"b\"");
        Assert.That(c.String("name"), Is.EqualTo("test-hvm64-example"));
        Assert.That(c.String("type"), Is.EqualTo("hvm"));
        Assert.That(c.String("empty"), Is.EqualTo(""));
        Assert.That(c.String("esc"), Is.EqualTo("a\"b"));
        Assert.That(c.Keys, Is.EqualTo(new[] { "name", "type", "empty", "esc" }));
    }

    [Test]
    public void Numbers()
    {
        var c = DomainConfig.Parse("memory = 128\nhex = 0x1F\nneg = -5\nquoted = \"64\"");
        Assert.That(c.Number("memory"), Is.EqualTo(128));
        Assert.That(c.Number("hex"), Is.EqualTo(31));
        Assert.That(c.Number("neg"), Is.EqualTo(-5));
        Assert.That(c.Number("quoted"), Is.EqualTo(64), "libxl integer settings take a quoted decimal");
        Assert.That(c.String("memory"), Is.EqualTo("128"));
        Assert.That(c.Number("missing"), Is.Null);
    }

    [Test]
    public void ListsMultiLineWithTrailingCommaAndComments()
    {
        var c = DomainConfig.Parse("disk = [ 'a',\n  # a comment inside\n  \"b\", 3,\n]\none = 'x'\nnone = []");
        Assert.That(c.List("disk"), Is.EqualTo(new[] { "a", "b", "3" }));
        Assert.That(c.List("one"), Is.EqualTo(new[] { "x" }));
        Assert.That(c.List("none"), Is.Empty);
        Assert.That(c.List("missing"), Is.Null);
        Assert.That(c.String("disk"), Is.Null);
    }

    [Test]
    public void CommentsSemicolonsBlankLines()
    {
        var c = DomainConfig.Parse("# header\n\n  a = 1 # trailing\r\nb = 2; c = 3;\n\t# end");
        Assert.That((c.Number("a"), c.Number("b"), c.Number("c")), Is.EqualTo(((long?)1, (long?)2, (long?)3)));
    }

    [Test]
    public void LastValueWins()
    {
        var c = DomainConfig.Parse("memory = 64\ntype = 'pv'\nmemory = 256");
        Assert.That(c.Number("memory"), Is.EqualTo(256));
        Assert.That(c.Keys, Is.EqualTo(new[] { "memory", "type" }));
    }

    [Test]
    public void Flags()
    {
        var c = DomainConfig.Parse("a = 0\nb = 1\nc = 'yes'\nd = 'no'\ne = ['x']");
        Assert.That(new[] { c.Flag("a"), c.Flag("b"), c.Flag("c"), c.Flag("d"), c.Flag("e"), c.Flag("z") },
            Is.EqualTo(new bool?[] { false, true, true, false, true, null }));
    }

    [Test]
    public void EmptyFileHasNoKeys() => Assert.That(DomainConfig.Parse("\n# only a comment\n").Keys, Is.Empty);

    [TestCase("a = 1\n= 2", "line 2: expected a setting name")]
    [TestCase("a = 1\n\n9x = 2", "line 3: expected a setting name")]
    [TestCase("a 1", "line 1: expected '='")]
    [TestCase("a = 1\nb =", "line 2: expected a value")]
    [TestCase("a = bare", "line 1: expected a string, number or list, not 'bare'")]
    [TestCase("a = \"open\nb = 1", "line 1: unterminated string")]
    [TestCase("a = 'open", "line 1: unterminated string")]
    [TestCase("a = [1,\n2\n3]", "line 3: expected ',' or ']' in a list")]
    [TestCase("a = [1,\n2", "line 2: expected ',' or ']' in a list")]
    [TestCase("a = [,]", "line 1: expected a string, number or list, not ','")]
    [TestCase("a = 1 2", "line 1: expected the end of the setting")]
    [TestCase("a = 0xZZ", "line 1: expected a string, number or list, not '0xZZ'")]
    public void ErrorsNameTheLine(string text, string message) =>
        Assert.That(() => DomainConfig.Parse(text), Throws.TypeOf<FormatException>().With.Message.EqualTo(message));
}
