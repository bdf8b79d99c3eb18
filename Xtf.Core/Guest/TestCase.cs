namespace Xtf.Core.Guest;

/// <summary>
/// Base of every test microkernel: the XTF API a test is written against. <see cref="Main"/> is
/// XTF's test_main; everything it does to the machine happens as x86 executed by the emulator.
/// </summary>
public abstract partial class TestCase
{
    /// <summary>XTF's test_main.</summary>
    public abstract void Main();
}
