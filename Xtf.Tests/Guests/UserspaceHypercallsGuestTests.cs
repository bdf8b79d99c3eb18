using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;

namespace Xtf.Tests.Guests;

/// <summary>
/// userspace-hypercalls (the set_hypercall_iopl extension, DESIGN.md section 5) in each of the
/// six environments, with the extension offered and with it switched off: absent, the test must
/// report FAILURE, never SUCCESS.
/// </summary>
[TestFixture]
public sealed class UserspaceHypercallsGuestTests
{
    private static readonly TestCatalog Catalog = new([typeof(Xtf.TestCases.UserspaceHypercalls.UserspaceHypercalls).Assembly]);

    private static InstanceOutcome Run(Environments env, bool userHypercalls)
    {
        var instance = Catalog.AllInstances().Single(i => i.Test.Name == "userspace-hypercalls" && i.Environment == env);
        return new TestEngine().Run(instance, new RunSettings { InstructionBudget = 20_000_000, UserHypercalls = userHypercalls });
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm32Pse)]
    [TestCase(Environments.Hvm32Pae)]
    [TestCase(Environments.Hvm64)]
    [TestCase(Environments.Pv32Pae)]
    [TestCase(Environments.Pv64)]
    public void PassesWithTheExtension(Environments env)
    {
        var o = Run(env, userHypercalls: true);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog);
        // The user-mode message reached both consoles (debug port at EFLAGS.IOPL 3, console_io at
        // hypercall iopl 3), twice; the refused writes reached neither.
        Assert.That(o.HypervisorConsole, Is.EqualTo(o.ConsoleLog));
        Assert.That(o.Lines.Count(l => l == "Hello from user mode"), Is.EqualTo(2), o.ConsoleLog);
        Assert.That(o.ConsoleLog, Does.Not.Contain("not for the log"));
    }

    [TestCase(Environments.Hvm32)]
    [TestCase(Environments.Hvm64)]
    [TestCase(Environments.Pv32Pae)]
    [TestCase(Environments.Pv64)]
    public void ReportsFailureWithoutTheExtension(Environments env)
    {
        var o = Run(env, userHypercalls: false);
        Assert.That(o.Result, Is.EqualTo(TestResult.Failure), o.ConsoleLog);
        Assert.That(o.ConsoleLog, Does.Contain("set_hypercall_iopl(3) from the kernel returned -38"));
    }
}
