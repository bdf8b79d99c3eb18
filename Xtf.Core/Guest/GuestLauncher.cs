namespace Xtf.Core.Guest;

/// <summary>Builds a machine and domain for a test, boots it, and returns how it ended.</summary>
public static class GuestLauncher
{
    public static GuestExit Run(TestCase test, GuestConfig config)
    {
        _ = test;
        _ = config;
        throw new NotSupportedException("guest runtime not yet built");
    }
}
