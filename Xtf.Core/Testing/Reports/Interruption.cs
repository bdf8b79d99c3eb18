namespace Xtf.Core.Testing.Reports;

/// <summary>
/// Why a report is incomplete: what stopped the run (the signal's name, <c>SIGINT</c> or
/// <c>SIGTERM</c>) and how many planned instances (over every round) never started. Those are not
/// results and appear in no report as one; instances the interruption stopped while running are
/// CRASH <c>interrupted</c> results, and are counted as run.
/// </summary>
/// <param name="Reason">What stopped the run.</param>
/// <param name="NotRun">Planned instances that never started.</param>
public sealed record Interruption(string Reason, int NotRun);
