using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Tests.Guests;

namespace Xtf.Tests.Xen.Pv;

public sealed class PvScratchTests
{
    private sealed class Hello : TestCase
    {
        public override void Main() => Success();
    }

    [TestCase(Environments.Pv64)]
    [TestCase(Environments.Pv32Pae)]
    public void Scratch(Environments env)
    {
        var o = GuestHarness.Run<Hello>(env: env);
        TestContext.Out.WriteLine(o.ToString());
    }
}
