namespace Xtf.Core.Testing;

/// <summary>Runs one test instance to its outcome; the runner and <c>dotnet test</c> depend on this seam.</summary>
public interface ITestEngine
{
    InstanceOutcome Run(TestInstance instance, RunSettings settings);
}
