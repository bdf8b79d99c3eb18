namespace Xtf.Core.Testing.Conformance;

/// <summary>
/// <c>revocation_list.txt</c>: hashes (40 hex digits, one per line, <c>#</c> comments) of tests
/// upstream found to be bad. Revoked tests are skipped, not run.
/// </summary>
public sealed class RevocationList
{
    /// <summary>The file's name in a SingleStepTests suite, looked for by <see cref="ConformanceInputs.For"/>.</summary>
    public const string FileName = "revocation_list.txt";

    private readonly HashSet<string> hashes;

    private RevocationList(HashSet<string> hashes) => this.hashes = hashes;

    /// <summary>No revoked tests: what applies when a suite has no revocation_list.txt.</summary>
    public static RevocationList Empty { get; } = new([]);

    /// <summary>Distinct hashes listed.</summary>
    public int Count => hashes.Count;

    /// <summary>Whether <paramref name="test"/>'s HASH chunk is listed (hex compared without regard to case).</summary>
    public bool IsRevoked(MooTest test) => hashes.Contains(test.HashHex);

    /// <summary>Reads the list; blank lines and lines starting with <c>#</c> are skipped, any other line must be exactly 40 hex digits (after trimming) or the file is a <see cref="ConformanceDataException"/> naming the line.</summary>
    public static RevocationList Load(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConformanceDataException($"{path}: cannot read revocation list: {e.Message}", e);
        }

        var set = new HashSet<string>(StringComparer.Ordinal);
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            if (line.Length != 40 || !line.All(char.IsAsciiHexDigit))
                throw new ConformanceDataException($"{path}, line {n + 1}: '{line}' is not a 40-digit SHA-1 hash");
            set.Add(line.ToLowerInvariant());
        }

        return new RevocationList(set);
    }
}
