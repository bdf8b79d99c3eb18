using Xtf.Core.Testing;

namespace Xtf.Tests.Matrix;

/// <summary>
/// An expectations file, the format of <c>xtf-runner --expect</c>: one <c>&lt;instance id&gt; &lt;RESULT&gt;</c>
/// per line (RESULT one of SUCCESS, SKIP, ERROR, FAILURE, CRASH). Blank lines and text from
/// <c>#</c> to the end of a line are ignored, so each known failure can say why it is known.
/// </summary>
public static class ExpectFile
{
    /// <summary>
    /// Reads the file. Throws <see cref="MatrixParameterException"/> for the <c>expect</c>
    /// parameter when it cannot be read, a line is malformed, or an id is listed twice.
    /// </summary>
    public static IReadOnlyDictionary<string, TestResult> Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new MatrixParameterException("expect", $"cannot read '{path}': {e.Message}");
        }

        return Parse(lines, path);
    }

    /// <summary>Parses the lines of an expectations file named <paramref name="path"/> (for messages).</summary>
    public static IReadOnlyDictionary<string, TestResult> Parse(IReadOnlyList<string> lines, string path)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var expected = new Dictionary<string, TestResult>(StringComparer.Ordinal);
        for (int n = 0; n < lines.Count; n++)
        {
            string line = lines[n];
            int hash = line.IndexOf('#', StringComparison.Ordinal);
            string[] fields = (hash >= 0 ? line[..hash] : line).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
                continue;
            if (fields.Length != 2 || !TryParseResult(fields[1], out var result))
                throw new MatrixParameterException("expect", $"{path}:{n + 1}: expected '<instance id> <SUCCESS|SKIP|ERROR|FAILURE|CRASH>', not '{line.Trim()}'");
            if (!expected.TryAdd(fields[0], result))
                throw new MatrixParameterException("expect", $"{path}:{n + 1}: '{fields[0]}' is listed twice");
        }

        return expected;
    }

    private static bool TryParseResult(string text, out TestResult result)
    {
        foreach (var r in Enum.GetValues<TestResult>())
        {
            if (TestResults.Name(r) == text)
            {
                result = r;
                return true;
            }
        }

        result = default;
        return false;
    }
}
