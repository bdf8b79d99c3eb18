using Microsoft.Extensions.DependencyInjection;
using Xtf.Core.Testing;
using Xtf.TestCases;

namespace Xtf.Runner;

/// <summary>Composition root of xtf-runner.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        try
        {
            using var services = new ServiceCollection()
                .AddXtf(typeof(TestCasesAssembly).Assembly)
                .BuildServiceProvider();
            // The progress line is drawn only where a person watches: stderr on a terminal.
            // SIGINT/SIGTERM during a run end it with a partial table and reports marked incomplete (README, Exit codes).
            var interruption = new RunInterruption(Console.Error, RunInterruption.DefaultGrace);
            return RunnerApp.FromServices(services, Console.Out, Console.Error, interactive: !Console.IsErrorRedirected, environment: Environment.GetEnvironmentVariable, interruption, listenToSignals: true).Run(args);
        }
        catch (Exception e)
        {
            // Whatever escaped is still one line and a runner error, never a stack trace.
            return RunnerApp.WriteError(Console.Error, $"{e.GetType().Name}: {e.Message}");
        }
    }
}
