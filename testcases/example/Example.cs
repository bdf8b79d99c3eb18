using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.TestCases.Example;

/// <summary>XTF's example: the title "Hello World" is the message; the test reports SUCCESS.</summary>
[XtfTest("example", Category.Special, Environments.All, Title = "Hello World")]
public sealed class Example : TestCase
{
    public override void Main() => Success();
}
