using NUnit.Framework;
using Xtf.Core.Guest;
using Xtf.Core.Testing;
using Xtf.Core.Xen;
using Xtf.TestCases;

namespace Xtf.Tests.Security;

/// <summary>
/// The quirk table (DESIGN.md section 6): every security test reports SUCCESS on the fixed
/// hypervisor and FAILURE with any quirk it guards, in every environment it declares; a quirk
/// turns no other security test to FAILURE; and every quirk is guarded by some test. A test its
/// quirk does not fail is a defect of the test.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class QuirkTableTests
{
    private static readonly TestCatalog Catalog = new([typeof(TestCasesAssembly).Assembly]);

    private static IEnumerable<TestDescriptor> Guarded => Catalog.Tests.Where(t => t.Guards.Count > 0);

    private static IEnumerable<TestCaseData> GuardedInstances() =>
        from t in Guarded
        from i in t.Instances()
        select new TestCaseData(i).SetName(i.Id);

    private static IEnumerable<TestCaseData> GuardedInstancesWithTheirQuirks() =>
        from t in Guarded
        from i in t.Instances()
        from q in t.Guards
        select new TestCaseData(i, q).SetName($"{i.Id} with {Quirks.Name(q)}");

    /// <summary>Each quirk against the security tests that do not guard it, in their first environment.</summary>
    private static IEnumerable<TestCaseData> OtherTestsUnderEachQuirk() =>
        from q in Enum.GetValues<Quirk>()
        from t in Guarded
        where !t.Guards.Contains(q)
        let i = t.Instances().First()
        select new TestCaseData(i, q).SetName($"{i.Id} unaffected by {Quirks.Name(q)}");

    private static InstanceOutcome Run(TestInstance instance, params Quirk[] quirks) =>
        new TestEngine().Run(instance, new RunSettings { Quirks = quirks.ToHashSet() });

    private static IEnumerable<Quirk> AllQuirks() => Enum.GetValues<Quirk>();

    [TestCaseSource(nameof(AllQuirks))]
    public void EveryQuirkIsGuardedBySomeTest(Quirk quirk) =>
        Assert.That(Guarded.Where(t => t.Guards.Contains(quirk)).Select(t => t.Name), Is.Not.Empty,
            $"no security test guards {Quirks.Name(quirk)}");

    [TestCaseSource(nameof(GuardedInstances))]
    public void PassesOnTheFixedHypervisor(TestInstance instance)
    {
        var o = Run(instance);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
    }

    /// <summary>
    /// The quirk turns the test to FAILURE with exactly the failure lines it should print
    /// (<see cref="QuirkFailureLines"/>): against the fixed hypervisor's console, the lines
    /// added are those and <c>Test result: FAILURE</c>, the lines gone are the ones they replace
    /// and <c>Test result: SUCCESS</c>, and every other line is unchanged.
    /// </summary>
    [TestCaseSource(nameof(GuardedInstancesWithTheirQuirks))]
    public void FailsWithTheBugItGuards(TestInstance instance, Quirk quirk)
    {
        var expected = QuirkFailureLines.For(quirk, instance);
        var fixedRun = Run(instance);
        var o = Run(instance, quirk);
        Assert.That(o.Result, Is.EqualTo(TestResult.Failure), o.ConsoleLog + o.Diagnostic);
        var (added, removed) = ConsoleDiff.Lines(fixedRun.ConsoleLog, o.ConsoleLog);
        var width = instance.Environment is Environments.Hvm64 or Environments.Pv64 ? 16 : 8;
        Assert.Multiple(() =>
        {
            Assert.That(added.Select(l => ConsoleDiff.MaskPointers(l, width)),
                Is.EqualTo(expected.Failures.Append("Test result: FAILURE")), "lines the quirk added\n" + o.ConsoleLog);
            Assert.That(removed, Is.EqualTo(expected.Replaced.Append("Test result: SUCCESS")), "lines the quirk removed\n" + o.ConsoleLog);
        });
    }

    /// <summary>A quirk changes nothing in a security test that does not guard it: the console is the fixed hypervisor's, line for line.</summary>
    [TestCaseSource(nameof(OtherTestsUnderEachQuirk))]
    public void IsNotFailedByAnotherQuirk(TestInstance instance, Quirk quirk)
    {
        var o = Run(instance, quirk);
        Assert.That(o.Result, Is.EqualTo(TestResult.Success), o.ConsoleLog + o.Diagnostic);
        Assert.That(o.ConsoleLog, Is.EqualTo(Run(instance).ConsoleLog), "the console differs from the fixed hypervisor's");
    }
}
