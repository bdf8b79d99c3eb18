using Xtf.Core.Testing;

namespace Xtf.Runner;

/// <summary>
/// xtf-runner's <c>Combined test results:</c> table and exit code, extended for <c>--expect</c> and
/// <c>--repeat</c> without changing the plain case. A row is the instance id left-justified in 40
/// columns, a space, and the worst result over the rounds; notes follow in one parenthesis only when
/// there is something to say: <c>expected</c> (the result is the one the expectations file names),
/// <c>unexpected pass</c> and <c>expected R</c> (a mismatch against R), <c>rounds: 3 SUCCESS, 2 FAILURE</c>
/// (the rounds disagreed), and, when our tests and upstream images run together, <c>upstream</c> or
/// <c>xtf.net</c>. The result word stays the first word after the id, so scripts that read
/// upstream's table still read this one.
/// </summary>
internal static class ResultsSummary
{
    /// <summary>Exit code when the only mismatches are unexpected passes (free: upstream reserved 1 and 2 for Python).</summary>
    public const int UnexpectedPassExitCode = 2;

    /// <summary>Writes the table; returns the exit code (see <see cref="ExitCode"/>).</summary>
    /// <param name="stdout">Where the table goes.</param>
    /// <param name="rounds">Each round's outcomes, in selection order; an interrupted round holds only the instances that ran (a prefix), and a round that never started is absent.</param>
    /// <param name="expectations">The expected result of each instance.</param>
    /// <param name="quiet">With 2 or more, rows that are SUCCESS as expected in every round are left out.</param>
    /// <param name="markOrigin">Note each row's origin (our C# test or an upstream image).</param>
    public static int Write(TextWriter stdout, IReadOnlyList<IReadOnlyList<InstanceOutcome>> rounds, Expectations expectations, int quiet, bool markOrigin = false)
    {
        stdout.WriteLine("Combined test results:");
        int rows = rounds.Count == 0 ? 0 : rounds[0].Count;
        for (int i = 0; i < rows; i++)
        {
            var instance = rounds[0][i].Instance;
            var results = rounds.Where(r => i < r.Count).Select(r => r[i].Result).ToList();
            var expected = expectations.For(instance);
            if (quiet >= 2 && expected == TestResult.Success && results.All(r => r == TestResult.Success))
                continue;
            stdout.WriteLine(Row(instance, results, expected, markOrigin));
        }

        return ExitCode(rounds, expectations);
    }

    /// <summary>
    /// The exit code: 0 when every result of every round is its instance's expected result;
    /// otherwise the code of the worst result that differs from its expectation (3 SKIP, 4 ERROR,
    /// 5 FAILURE, 6 CRASH), or <see cref="UnexpectedPassExitCode"/> when every difference is a
    /// SUCCESS. Without expectations every instance expects SUCCESS, which is xtf-runner's rule:
    /// the worst result wins. (A runner error, 1, is decided before any of this.)
    /// </summary>
    public static int ExitCode(IReadOnlyList<IReadOnlyList<InstanceOutcome>> rounds, Expectations expectations)
    {
        int code = 0;
        foreach (var outcome in rounds.SelectMany(r => r))
        {
            if (outcome.Result == expectations.For(outcome.Instance))
                continue;
            int c = outcome.Result == TestResult.Success ? UnexpectedPassExitCode : TestResults.ExitCode(outcome.Result);
            code = Math.Max(code, c);
        }

        return code;
    }

    private static string Row(TestInstance instance, List<TestResult> results, TestResult expected, bool markOrigin)
    {
        string id = instance.Id;
        var worst = results.Max();
        var notes = new List<string>();
        if (results.All(r => r == expected))
        {
            if (expected != TestResult.Success)
                notes.Add("expected");
        }
        else if (expected != TestResult.Success)
        {
            notes.Add(results.Contains(TestResult.Success) ? $"unexpected pass, expected {TestResults.Name(expected)}" : $"expected {TestResults.Name(expected)}");
        }

        if (results.Distinct().Count() > 1)
        {
            var counts = results.GroupBy(r => r).OrderBy(g => g.Key).Select(g => $"{g.Count()} {TestResults.Name(g.Key)}");
            notes.Add("rounds: " + string.Join(", ", counts));
        }

        if (markOrigin)
            notes.Add(instance.Test.Origin);

        string row = $"{id,-40} {TestResults.Name(worst)}";
        return notes.Count == 0 ? row : $"{row} ({string.Join("; ", notes)})";
    }
}
