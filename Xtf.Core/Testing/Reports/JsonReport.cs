using System.Text.Json;
using Xtf.Core.Guest;

namespace Xtf.Core.Testing.Reports;

/// <summary>
/// The run as JSON (System.Text.Json): the worst result and exit code, then one object per
/// instance with its id, test, environment, variation, category, result, crash reason, host
/// exception with its stack trace, instructions retired, wall-clock milliseconds and console log.
/// </summary>
public static class JsonReport
{
    /// <summary>
    /// Writes UTF-8 JSON to <paramref name="output"/>: <c>result</c> and <c>exit_code</c> are the worst result by
    /// xtf-runner's all_results order and its exit code (SUCCESS and 0 for no instances); <c>instances</c> keeps the
    /// order of <paramref name="outcomes"/>, each with <c>variation</c> null when there is none, <c>diagnostic</c>
    /// only when set (the crash reason), <c>host_exception</c> only when one ended the instance (type, message and
    /// full stack trace, <see cref="InstanceOutcome.HostException"/>), and <c>elapsed_ms</c> rounded to microseconds.
    /// <c>incomplete</c> is false for a run that ended by itself; an <paramref name="interrupted"/> one has it true,
    /// with <c>interrupted_by</c> (the signal), <c>instances_run</c> and <c>instances_not_run</c>, and
    /// <c>result</c>/<c>exit_code</c> over the instances that ran.
    /// </summary>
    public static void Write(Stream output, IReadOnlyList<InstanceOutcome> outcomes, Interruption? interrupted = null)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        var worst = outcomes.Count == 0 ? TestResult.Success : outcomes.Max(o => o.Result);
        json.WriteStartObject();
        json.WriteString("result", TestResults.Name(worst));
        json.WriteNumber("exit_code", TestResults.ExitCode(worst));
        json.WriteBoolean("incomplete", interrupted is not null);
        if (interrupted is not null)
        {
            json.WriteString("interrupted_by", interrupted.Reason);
            json.WriteNumber("instances_run", outcomes.Count);
            json.WriteNumber("instances_not_run", interrupted.NotRun);
        }

        json.WriteStartArray("instances");
        foreach (var o in outcomes)
        {
            json.WriteStartObject();
            json.WriteString("id", o.Instance.Id);
            json.WriteString("test", o.Instance.Test.Name);
            json.WriteString("environment", GuestEnvironment.Name(o.Instance.Environment));
            if (o.Instance.Variation is { } v)
                json.WriteString("variation", v);
            else
                json.WriteNull("variation");
            json.WriteString("category", Categories.Name(o.Instance.Test.Category));
            json.WriteString("origin", o.Instance.Test.Origin);
            json.WriteString("result", TestResults.Name(o.Result));
            if (o.Diagnostic is { } d)
                json.WriteString("diagnostic", d);
            if (o.HostException is { } trace)
                json.WriteString("host_exception", trace);
            json.WriteNumber("instructions", o.Instructions);
            json.WriteNumber("elapsed_ms", Math.Round(o.Elapsed.TotalMilliseconds, 3));
            json.WriteString("log", o.ConsoleLog);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
