using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>Runs a test-only guest (a TestCase that is not in the catalog) through the real engine.</summary>
internal static class GuestHarness
{
    public static InstanceOutcome Run<T>(long budget = 5_000_000, Environments env = Environments.Hvm32, string title = "test guest", RunSettings? settings = null)
        where T : TestCase, new()
    {
        var descriptor = new TestDescriptor(typeof(T).Name.ToLowerInvariant(), Category.Special, env, title, [], typeof(T));
        var instance = new TestInstance(descriptor, env, null);
        return new TestEngine().Run(instance, (settings ?? new RunSettings()) with { InstructionBudget = budget });
    }
}
