using System.Diagnostics;
using System.Reflection;
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
    /// <remarks>Null <paramref name="settings"/> means the defaults of <see cref="RunSettings"/>. The outcome's <see cref="InstanceOutcome.Diagnostic"/> is the stop reason, for CRASH only. The instance runs on a thread of its own under <see cref="InstanceWatchdog"/>, so C# that never returns is a CRASH after <see cref="InstanceWatchdog.LimitOf"/>.</remarks>
    public InstanceOutcome Run(TestInstance instance, RunSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var chosen = settings ?? new RunSettings();
        var mirror = new Machine.ConsoleMirror();
        return InstanceWatchdog.Run(instance, InstanceWatchdog.LimitOf(chosen), () => RunHere(instance, chosen, mirror), mirror);
    }

    private static InstanceOutcome RunHere(TestInstance instance, RunSettings settings, Machine.ConsoleMirror mirror)
    {
        if (instance.Test.Upstream is not null)
            return UpstreamEngine.Run(instance, settings);
        var sw = Stopwatch.StartNew();
        TestCase test;
        try
        {
            test = (TestCase)Activator.CreateInstance(instance.Test.Type!)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner and not OutOfMemoryException)
        {
            // The test's constructor (its field initialisers) threw: test code, as Main is.
            return new InstanceOutcome(instance, TestResult.Crash, "", [], $"host exception: {inner.GetType().Name}: {inner.Message}", 0, sw.Elapsed)
            {
                HostException = inner.ToString(),
            };
        }

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
            ConsoleMirror = mirror,
        };
        var exit = GuestLauncher.Run(test, config);
        var lines = exit.Lines;
        var result = TestResults.FromConsoleLog(lines);
        string? diagnostic = result == TestResult.Crash ? exit.Reason : null;
        return new InstanceOutcome(instance, result, exit.ConsoleText, lines, diagnostic, exit.Instructions, sw.Elapsed)
        {
            HypervisorConsole = exit.HypervisorConsoleText,
            PvConsole = exit.PvConsoleText,
            HostException = exit.HostException,
        };
    }
}
