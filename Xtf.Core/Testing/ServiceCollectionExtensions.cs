using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace Xtf.Core.Testing;

/// <summary>The one registration composition roots call (DESIGN.md section 3).</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>Registers the <see cref="TestCatalog"/> of the given assemblies and the <see cref="ITestEngine"/>.</summary>
    public static IServiceCollection AddXtf(this IServiceCollection services, params Assembly[] testAssemblies)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(testAssemblies);
        Assembly[] assemblies = [.. testAssemblies];
        services.AddSingleton(_ => new TestCatalog(assemblies));
        services.AddSingleton<ITestEngine, TestEngine>();
        return services;
    }
}
