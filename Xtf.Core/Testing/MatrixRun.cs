using System.Runtime.ExceptionServices;

namespace Xtf.Core.Testing;

/// <summary>
/// Runs a selection of instances on up to <c>jobs</c> worker threads (xtf-runner's <c>-j N</c>).
/// Every instance has a machine of its own and shares nothing mutable with the others, so the
/// outcome of each is the same whatever else runs beside it; what changes with <c>jobs</c> is only
/// when it finishes. Outcomes are handed back in selection order, so what a caller prints from
/// them is identical to a serial run.
/// </summary>
public static class MatrixRun
{
    /// <summary>
    /// Runs every instance and returns the outcomes in selection order. Once <paramref name="stop"/>
    /// is cancelled no further instance starts: those already running end as usual (or as CRASH
    /// <c>interrupted</c> when <see cref="RunSettings.Interrupt"/> is cancelled too), and the
    /// result holds only the instances that ran. Instances start in selection order, so those are
    /// always a prefix of <paramref name="instances"/>: fewer outcomes than instances means the
    /// rest never ran.
    /// </summary>
    /// <param name="engine">Runs one instance; an exception escaping it is a CRASH of that instance.</param>
    /// <param name="instances">The selection, in the order outcomes are reported.</param>
    /// <param name="settings">Limits and hypervisor options shared by every instance.</param>
    /// <param name="jobs">Worker threads; 1 runs the selection serially on the calling thread.</param>
    /// <param name="inOrder">
    /// Called with (index, outcome) in selection order, as soon as the outcome and all before it are
    /// known (never concurrently): a caller streams its output from here.
    /// </param>
    /// <param name="completed">
    /// Called with each outcome as it completes, in completion order (never concurrently): a
    /// progress line is drawn from here.
    /// </param>
    /// <param name="stop">Once cancelled, no instance starts (the runner's first SIGINT/SIGTERM).</param>
    public static IReadOnlyList<InstanceOutcome> Run(
        ITestEngine engine,
        IReadOnlyList<TestInstance> instances,
        RunSettings settings,
        int jobs = 1,
        Action<int, InstanceOutcome>? inOrder = null,
        Action<InstanceOutcome>? completed = null,
        CancellationToken stop = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(instances);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentOutOfRangeException.ThrowIfLessThan(jobs, 1);

        var outcomes = new InstanceOutcome?[instances.Count];
        var gate = new object();
        int next = 0, released = 0;
        ExceptionDispatchInfo? callbackFailure = null;

        void Worker()
        {
            while (true)
            {
                // Checked before an index is claimed: every claimed instance runs, so the ones that ran stay a prefix.
                if (stop.IsCancellationRequested)
                    return;
                int i = Interlocked.Increment(ref next) - 1;
                if (i >= instances.Count)
                    return;
                var outcome = RunOne(engine, instances[i], settings);
                lock (gate)
                {
                    if (callbackFailure is not null)
                        return;
                    outcomes[i] = outcome;
                    try
                    {
                        completed?.Invoke(outcome);
                        // (Not `inOrder?.Invoke(released++, ...)`: a null callback would skip the increment.)
                        while (released < outcomes.Length && outcomes[released] is { } ready)
                        {
                            int index = released++;
                            inOrder?.Invoke(index, ready);
                        }
                    }
                    catch (Exception e)
                    {
                        // A caller's failure (an unwritable log, say) ends the run; it is
                        // rethrown on the caller's thread, never left to kill a worker.
                        callbackFailure = ExceptionDispatchInfo.Capture(e);
                        Interlocked.Exchange(ref next, instances.Count);
                        return;
                    }
                }
            }
        }

        int threads = Math.Min(jobs, instances.Count);
        if (threads <= 1)
        {
            Worker();
        }
        else
        {
            // Dedicated threads rather than the pool: an instance may run for seconds, and the
            // machine's CPU loop would otherwise hold pool threads the host needs.
            var workers = Enumerable.Range(0, threads)
                .Select(n => new Thread(Worker) { IsBackground = true, Name = $"xtf-job-{n + 1}" })
                .ToList();
            workers.ForEach(t => t.Start());
            workers.ForEach(t => t.Join());
        }

        callbackFailure?.Throw();

        return [.. outcomes.TakeWhile(o => o is not null).Select(o => o!)];
    }

    /// <summary>
    /// One instance. The result is the engine's, which decides it from the console log; a host
    /// exception escaping the engine leaves no result line, so it is a CRASH (DESIGN.md section 5).
    /// </summary>
    private static InstanceOutcome RunOne(ITestEngine engine, TestInstance instance, RunSettings settings)
    {
        try
        {
            return engine.Run(instance, settings);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new InstanceOutcome(instance, TestResult.Crash, "", [], $"host exception: {e.GetType().Name}: {e.Message}", 0, TimeSpan.Zero)
            {
                HostException = e.ToString(),
            };
        }
    }
}
