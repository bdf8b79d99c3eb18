using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.TestCases.Fep;

/// <summary>
/// XTF's fep utility: tests the availability of the HVM forced emulation prefix, which lets an HVM
/// guest exercise the hypervisor's instruction emulator at will. SUCCESS if FEP is available,
/// FAILURE if not.
/// </summary>
[XtfTest("fep", Category.Utility, Environments.Hvm32, Title = "Test availability of HVM forced emulation prefix")]
public sealed class Fep : TestCase
{
    public override void Main()
    {
        if (XtfHasFep)
            Success();
        else
            Failure();
    }
}
