using System.Diagnostics;
using Xtf.Core.Guest;
using Xtf.Core.Testing.Upstream;
using Xtf.Core.Xen;

namespace Xtf.Core.Testing;

/// <summary>
/// Runs test instances: each gets a fresh machine and domain; the result is decided from the
/// guest's console log only (DESIGN.md section 5).
/// </summary>
public sealed class TestEngine : ITestEngine
{
    /// <inheritdoc/>
    /// <remarks>Null <paramref name="settings"/> means the defaults of <see cref="RunSettings"/>. The outcome's <see cref="InstanceOutcome.Diagnostic"/> is the stop reason, for CRASH only.</remarks>
    public InstanceOutcome Run(TestInstance instance, RunSettings? settings = null)
    {
        settings ??= new RunSettings();
        if (instance.Test.Upstream is not null)
            return UpstreamEngine.Run(instance, settings);
        var sw = Stopwatch.StartNew();
        var test = (TestCase)Activator.CreateInstance(instance.Test.Type!)!;
        var config = new GuestConfig
        {
            Environment = instance.Environment,
            Title = instance.Test.Title,
            Variation = instance.Variation,
            InstructionBudget = settings.InstructionBudget,
            MemoryBytes = settings.MemoryBytes,
            Timeout = settings.Timeout,
            Interrupt = settings.Interrupt,
            Hypervisor = settings.Hypervisor,
            ExtraConfig = instance.Test.ExtraConfig,
        };
        var exit = GuestLauncher.Run(test, config);
        var lines = exit.Lines;
        var result = TestResults.FromConsoleLog(lines);
        string? diagnostic = result == TestResult.Crash ? exit.Reason : null;
        return new InstanceOutcome(instance, result, exit.ConsoleText, lines, diagnostic, exit.Instructions, sw.Elapsed)
        {
            HypervisorConsole = exit.HypervisorConsoleText,
            PvConsole = exit.PvConsoleText,
        };
    }
}
