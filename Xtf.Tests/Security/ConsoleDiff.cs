using System.Text.RegularExpressions;

namespace Xtf.Tests.Security;

/// <summary>A line diff of two console logs (longest common subsequence), for the quirk table.</summary>
internal static partial class ConsoleDiff
{
    /// <summary>The lines only <paramref name="after"/> has and those only <paramref name="before"/> has, each in order.</summary>
    public static (List<string> Added, List<string> Removed) Lines(string before, string after)
    {
        var a = Split(before);
        var b = Split(after);
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        }

        List<string> added = [], removed = [];
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                x++;
                y++;
            }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y]))
            {
                added.Add(b[y++]);
            }
            else
            {
                removed.Add(a[x++]);
            }
        }

        return (added, removed);
    }

    /// <summary>The line with each <c>at</c> pointer of exactly <paramref name="width"/> hex digits written <see cref="QuirkFailureLines.Pointer"/>.</summary>
    public static string MaskPointers(string line, int width) =>
        Pointer().Replace(line, m => m.Groups[1].Length == width ? "at " + QuirkFailureLines.Pointer : m.Value);

    private static string[] Split(string log) => log.Replace("\r\n", "\n").TrimEnd('\n').Split('\n');

    [GeneratedRegex(@"at ([0-9a-f]+)$")]
    private static partial Regex Pointer();
}
