using Xtf.Core.Guest.Runtime;

namespace Xtf.Core.Guest;

/// <summary>Builds a machine and domain for a test, boots it, and returns how it ended.</summary>
public static class GuestLauncher
{
    /// <summary>Boots <paramref name="test"/> in a fresh machine per <paramref name="config"/> and runs it to the end. Never throws for guest or test-code failures: an unsupported configuration or a host exception comes back as the exit's reason with no result line (a CRASH). The console text is the debug port's log for HVM, the console_io log for PV.</summary>
    public static GuestExit Run(TestCase test, GuestConfig config)
    {
        GuestRuntime runtime;
        try
        {
            runtime = new GuestRuntime(test, config);
        }
        catch (NotSupportedException e)
        {
            return new GuestExit("", [], "", e.Message, 0);
        }

        // HVM: the debug port. PV has none: console_io, which every message reaches first.
        var log = runtime.IsPv ? runtime.Domain.HypervisorConsole : runtime.Machine.Log;
        if (config.ConsoleMirror is { } mirror)
            log.ByteWritten += mirror.Append;

        string reason;
        string? hostException = null;
        try
        {
            reason = runtime.Run();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A host exception in test code or the runtime ends the instance; the log has no
            // result line, so it is a CRASH. The reason keeps type and message; the trace, which
            // names the failing line of the test, goes with the exit for the log and reports.
            reason = $"host exception: {e.GetType().Name}: {e.Message}";
            hostException = e.ToString();
        }

        return new GuestExit(log.Text, log.Lines, runtime.Domain.HypervisorConsole.Text, reason, runtime.Cpu.Retired)
        {
            PvConsoleText = runtime.Domain.Domain.Console?.Log.Text ?? "",
            HostException = hostException,
        };
    }
}
