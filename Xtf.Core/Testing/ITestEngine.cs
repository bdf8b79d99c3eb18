namespace Xtf.Core.Testing;

/// <summary>Runs one test instance to its outcome; the runner and <c>dotnet test</c> depend on this seam.</summary>
public interface ITestEngine
{
    /// <summary>
    /// Boots <paramref name="instance"/> on a fresh machine and runs it to its end, returning its console log
    /// and the result decided from that log (<see cref="TestResults.FromConsoleLog"/>). A guest that crashes
    /// or exhausts <paramref name="settings"/>' limits is a CRASH outcome, not an exception.
    /// </summary>
    InstanceOutcome Run(TestInstance instance, RunSettings settings);
}
