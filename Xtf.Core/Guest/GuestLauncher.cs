using Xtf.Core.Guest.Runtime;

namespace Xtf.Core.Guest;

/// <summary>Builds a machine and domain for a test, boots it, and returns how it ended.</summary>
public static class GuestLauncher
{
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

        string reason;
        try
        {
            reason = runtime.Run();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A host exception in test code or the runtime ends the instance; the log has no
            // result line, so it is a CRASH.
            reason = $"host exception: {e.GetType().Name}: {e.Message}";
        }

        // HVM: the debug port. PV has none: console_io, which every message reaches first.
        var log = runtime.IsPv ? runtime.Domain.HypervisorConsole : runtime.Machine.Log;
        return new GuestExit(log.Text, log.Lines, runtime.Domain.HypervisorConsole.Text, reason, runtime.Cpu.Retired)
        {
            PvConsoleText = runtime.Domain.Domain.Console?.Log.Text ?? "",
        };
    }
}
