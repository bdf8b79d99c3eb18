using System.Runtime.InteropServices;

namespace Xtf.Runner;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM during a run. The first signal stops new instances from starting
/// (<see cref="Stop"/>) and gives the running ones <see cref="Grace"/> to end by themselves; then
/// <see cref="Abort"/> ends them at their next budget chunk as CRASH <c>interrupted</c>. The run then
/// reports as usual, marked incomplete, and exits <see cref="ExitCode"/>. A second signal aborts at
/// once and calls <see cref="SecondSignal"/>, which writes whatever reports it can and exits.
/// </summary>
internal sealed class RunInterruption
{
    /// <summary>How long running instances may take to end by themselves after the first signal.</summary>
    public static readonly TimeSpan DefaultGrace = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource stop = new();
    private readonly CancellationTokenSource abort = new();
    private readonly TextWriter stderr;
    private int signals;

    /// <param name="stderr">Where the one notice line per signal goes.</param>
    /// <param name="grace">Time running instances get after the first signal.</param>
    public RunInterruption(TextWriter stderr, TimeSpan grace)
    {
        this.stderr = stderr;
        Grace = grace;
    }

    /// <summary>Time running instances get after the first signal.</summary>
    public TimeSpan Grace { get; }

    /// <summary>Cancelled at the first signal: no instance starts after it.</summary>
    public CancellationToken Stop => stop.Token;

    /// <summary>Cancelled when the grace is over or at a second signal: running instances end as CRASH <c>interrupted</c>.</summary>
    public CancellationToken Abort => abort.Token;

    /// <summary>The first signal's name (<c>SIGINT</c>, <c>SIGTERM</c>); null while none came.</summary>
    public string? Signal { get; private set; }

    /// <summary>
    /// The exit code of an interrupted run: 128 + the signal number, as a shell reports a process the
    /// signal killed (130 for SIGINT, 143 for SIGTERM), so scripts and CI stop as they would have.
    /// </summary>
    public int ExitCode => Signal == nameof(PosixSignal.SIGTERM) ? 143 : 130;

    /// <summary>Called (on the signal's thread) at a second signal, after <see cref="Abort"/>.</summary>
    public Action? SecondSignal { get; set; }

    /// <summary>Handles SIGINT and SIGTERM instead of the runtime's default (termination) until disposed.</summary>
    public IDisposable Listen()
    {
        var registrations = new[]
        {
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle),
        };
        return new Registrations(registrations);
    }

    /// <summary>What a signal does: the first stops the run gracefully, the second at once.</summary>
    public void Request(PosixSignal signal)
    {
        string name = signal == PosixSignal.SIGTERM ? nameof(PosixSignal.SIGTERM) : nameof(PosixSignal.SIGINT);
        if (Interlocked.Increment(ref signals) == 1)
        {
            Signal = name;
            stop.Cancel();
            stderr.WriteLine($"xtf-runner: {name}: no new instance starts; running ones end within {Grace.TotalSeconds:0.###} s (signal again to stop now)");
            stderr.Flush();
            abort.CancelAfter(Grace);
            return;
        }

        stderr.WriteLine($"xtf-runner: {name} again: stopping now");
        stderr.Flush();
        abort.Cancel();
        SecondSignal?.Invoke();
    }

    private void Handle(PosixSignalContext context)
    {
        // Keep the process: the run ends itself, reports and exits with ExitCode.
        context.Cancel = true;
        Request(context.Signal);
    }

    private sealed class Registrations(PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var r in registrations)
                r.Dispose();
        }
    }
}
