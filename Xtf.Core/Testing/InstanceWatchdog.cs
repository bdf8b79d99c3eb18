using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;

namespace Xtf.Core.Testing;

/// <summary>
/// Bounds one instance in host time, whatever runs in it. The guest's limits (budget,
/// <c>--timeout</c>) are checked by the vCPU loop, so C# that never gives control back to it (a
/// test's <c>while (true) {}</c>, a runaway in the runtime) would hang the caller. Here the
/// instance runs on a thread of its own and the caller waits at most <see cref="LimitOf"/>; past
/// that the instance is a CRASH naming it, and its thread is abandoned (.NET cannot stop a thread
/// from outside). The thread is a background thread, so it never keeps the process alive, and it
/// holds nothing the caller or another instance uses: the body builds its own machine, and its
/// outcome goes to a slot only this call reads, and reads only if the body finished in time.
/// </summary>
public static class InstanceWatchdog
{
    /// <summary>The default limit (<see cref="RunSettings.Watchdog"/>, the runner's <c>--watchdog</c>).</summary>
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(60);

    /// <summary>What the limit keeps above the instance's <see cref="RunSettings.Timeout"/>.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(10);

    /// <summary>The limit for an instance run with <paramref name="settings"/>: the watchdog setting, raised to the timeout plus <see cref="Margin"/> when that is longer.</summary>
    public static TimeSpan LimitOf(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Timeout is { } timeout && timeout + Margin > settings.Watchdog ? timeout + Margin : settings.Watchdog;
    }

    /// <summary>
    /// Runs <paramref name="body"/> for <paramref name="instance"/> on a dedicated background
    /// thread and waits for it at most <paramref name="limit"/>. In time: the body's outcome, or
    /// its exception rethrown here with its stack trace. Too late: a CRASH outcome whose
    /// diagnostic names the instance and the limit, with the console the guest printed so far as
    /// <paramref name="console"/> mirrored it (the abandoned thread's machine is still its own:
    /// only the mirror, made for reading across threads, is read).
    /// </summary>
    public static InstanceOutcome Run(TestInstance instance, TimeSpan limit, Func<InstanceOutcome> body, Machine.ConsoleMirror? console = null)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(body);
        var slot = new Slot(body);
        var thread = new Thread(slot.Execute) { IsBackground = true, Name = $"xtf {instance.Id}" };
        var clock = Stopwatch.StartNew();
        thread.Start();
        // Join takes at most int.MaxValue ms (about 24.8 days); a longer limit is none.
        if (!thread.Join(limit.TotalMilliseconds >= int.MaxValue ? System.Threading.Timeout.InfiniteTimeSpan : limit))
        {
            string seconds = limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
            string reason = $"watchdog: {instance.Id} did not return within {seconds} s (the test's C# or the runtime never gave control back; its thread is abandoned)";
            return new InstanceOutcome(instance, TestResult.Crash, console?.Text ?? "", console?.Lines ?? [], reason, 0, clock.Elapsed);
        }

        // Join returned true: the body's writes to the slot are visible here.
        slot.Failure?.Throw();
        return slot.Outcome!;
    }

    /// <summary>One run's result, written by its thread only, read by its caller only after a successful join.</summary>
    private sealed class Slot(Func<InstanceOutcome> body)
    {
        public InstanceOutcome? Outcome { get; private set; }

        public ExceptionDispatchInfo? Failure { get; private set; }

        public void Execute()
        {
            // Nothing may escape a thread of our own: an unhandled exception there ends the process.
            try
            {
                Outcome = body();
            }
            catch (Exception e)
            {
                Failure = ExceptionDispatchInfo.Capture(e);
            }
        }
    }
}
