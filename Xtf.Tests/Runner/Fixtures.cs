using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Runner.Fixtures;

// Dummy test cases for the runner's tests: a catalog with every category, pseudo-environment and
// variation shape the selection grammar distinguishes. They never run; FakeTestEngine answers for them.

/// <summary>Utility (non-default), every environment: XTF's example.</summary>
[XtfTest("example", Category.Utility, Environments.All, Title = "Hello World")]
public sealed class ExampleFixture : TestCase
{
    public override void Main()
    {
    }
}

/// <summary>Functional, every environment: XTF's selftest.</summary>
[XtfTest("selftest", Category.Functional, Environments.All, Title = "Framework selftests")]
public sealed class SelftestFixture : TestCase
{
    public override void Main()
    {
    }
}

/// <summary>Functional, PV only, with a hyphen in its name.</summary>
[XtfTest("pv-iopl", Category.Functional, Environments.Pv, Title = "PV IOPL")]
public sealed class PvIoplFixture : TestCase
{
    public override void Main()
    {
    }
}

/// <summary>XSA, HVM only.</summary>
[XtfTest("xsa-106", Category.Xsa, Environments.Hvm, Title = "XSA-106")]
public sealed class Xsa106Fixture : TestCase
{
    public override void Main()
    {
    }
}

/// <summary>Functional, two environments, two variations (declared out of order).</summary>
[XtfTest("invlpg", Category.Functional, Environments.Hvm32 | Environments.Hvm64, Title = "INVLPG", Variations = ["shadow", "hap"])]
public sealed class InvlpgFixture : TestCase
{
    public override void Main()
    {
    }
}

/// <summary>In-development (non-default), one environment.</summary>
[XtfTest("nested-vmx", Category.InDevelopment, Environments.Hvm64, Title = "Nested VMX")]
public sealed class NestedVmxFixture : TestCase
{
    public override void Main()
    {
    }
}

/// <summary>Special (non-default), PV only.</summary>
[XtfTest("pv-fsgsbase", Category.Special, Environments.Pv64, Title = "PV FSGSBASE")]
public sealed class PvFsgsbaseFixture : TestCase
{
    public override void Main()
    {
    }
}
