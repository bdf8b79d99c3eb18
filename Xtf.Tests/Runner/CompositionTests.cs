using Microsoft.Extensions.DependencyInjection;
using NUnit.Framework;
using Xtf.Core.Testing;
using Xtf.Runner;
using Xtf.TestCases;
using Xtf.Tests.Runner.Fixtures;

namespace Xtf.Tests.Runner;

/// <summary>AddXtf() as the roots use it, and the runner built over its services.</summary>
[TestFixture]
public sealed class CompositionTests
{
    [Test]
    public void AddXtfRegistersTheCatalogAndTheEngineAsSingletons()
    {
        using var services = new ServiceCollection().AddXtf(typeof(TestCasesAssembly).Assembly).BuildServiceProvider();
        var engine = services.GetRequiredService<ITestEngine>();
        var catalog = services.GetRequiredService<TestCatalog>();
        Assert.Multiple(() =>
        {
            Assert.That(engine, Is.InstanceOf<TestEngine>());
            Assert.That(services.GetRequiredService<ITestEngine>(), Is.SameAs(engine));
            Assert.That(services.GetRequiredService<TestCatalog>(), Is.SameAs(catalog));
        });
    }

    [Test]
    public void TheCatalogHoldsTheTestsOfTheGivenAssembliesOnly()
    {
        using var tests = new ServiceCollection().AddXtf(typeof(CompositionTests).Assembly).BuildServiceProvider();
        using var testCases = new ServiceCollection().AddXtf(typeof(TestCasesAssembly).Assembly).BuildServiceProvider();
        Assert.Multiple(() =>
        {
            Assert.That(
                tests.GetRequiredService<TestCatalog>().Tests.Select(t => t.Type),
                Is.SupersetOf(RunnerHarness.Catalog.Tests.Select(t => t.Type)));
            Assert.That(
                testCases.GetRequiredService<TestCatalog>().Tests.Select(t => t.Type!.Assembly).Distinct(),
                Is.SubsetOf(new[] { typeof(TestCasesAssembly).Assembly }));
        });
    }

    [Test]
    public void FromTypesIgnoresTypesWithoutTheAttribute()
    {
        var catalog = TestCatalog.FromTypes(typeof(ExampleFixture), typeof(CompositionTests), typeof(ExampleFixture));
        Assert.That(catalog.Tests.Select(t => t.Name), Is.EqualTo(new[] { "example" }));
    }

    [Test]
    public void TheRunnerResolvesItsServices()
    {
        var engine = new FakeTestEngine();
        using var services = new ServiceCollection()
            .AddXtf(typeof(CompositionTests).Assembly)
            .AddSingleton<ITestEngine>(engine)
            .BuildServiceProvider();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = RunnerApp.FromServices(services, stdout, stderr).Run(["-q", "hvm64-nested-vmx"]);
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero);
            Assert.That(engine.Runs.Select(r => r.Instance.Id), Is.EqualTo(new[] { "test-hvm64-nested-vmx" }));
        });
    }

    [Test]
    public void AnErrorMessageIsAlwaysOneLine()
    {
        using var stderr = new StringWriter { NewLine = "\n" };
        int exit = RunnerApp.WriteError(stderr, "first\r\n  second\n\nthird");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(stderr.ToString(), Is.EqualTo("Error: first second third\n"));
        });
    }
}
